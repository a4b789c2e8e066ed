//! URLs that RFC 3986 forbids as written (`[` in a path or query, spaces, non-ASCII) from an
//! email to a TAXII poll and a STIX export: the indicator keeps the value as found (its identity,
//! its name), every STIX object carries the encoded URI (`stix::uri::to_uri`), the pattern names
//! the SCO's value, and all of it is strictly valid; the same URL reported again joins the same
//! indicator.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::assert_strictly_valid;
use crate::helpers::{TestApp, status_json};
use crate::oracle;

/// As found in a tracking pixel (cf. the shared corpus: `…/track/[open]`, `ord=[timestamp]`).
const PIXEL: &str = "http://dignity-gambling-phish.com/track/[open]";
const PIXEL_URI: &str = "http://dignity-gambling-phish.com/track/%5Bopen%5D";
const AD: &str = "http://ad.dignity-gambling-phish.com/ad/N1090;sz=160x600;ord=[timestamp]";
const AD_URI: &str = "http://ad.dignity-gambling-phish.com/ad/N1090;sz=160x600;ord=%5Btimestamp%5D";
/// Non-ASCII path and query.
const PRIZE: &str = "http://dignity-gambling-phish.com/prämie/gewinn?name=jürgen";
const PRIZE_URI: &str = "http://dignity-gambling-phish.com/pr%C3%A4mie/gewinn?name=j%C3%BCrgen";

fn phish(recipient: &str, message_id: &str) -> String {
    format!(
        "From: \"Dignity Rewards\" <win@dignity-gambling-phish.com>\r\n\
To: {recipient}\r\n\
Subject: You won\r\n\
Date: Tue, 29 Nov 2016 06:59:10 -0800\r\n\
Message-ID: <{message_id}@dignity-gambling-phish.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><body><p>Claim your prize!</p>\r\n\
<img src=\"{PIXEL}\" width=\"0\">\r\n\
<img src=\"{AD}\" width=\"160\">\r\n\
<a href=\"{PRIZE}\">Claim</a>\r\n\
</body></html>\r\n"
    )
}

async fn url_items(app: &TestApp, import: i64) -> Vec<String> {
    let d = app.draft(import).await;
    d["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "url")
        .map(|i| i["value"].as_str().unwrap().to_string())
        .collect()
}

async fn indicators_with_value(app: &TestApp, value: &str) -> usize {
    let (status, body) = status_json(
        app.as_admin(app.get("/api/v1/indicators"))
            .query(&[("type", "url"), ("value", value)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["indicators"].as_array().unwrap().len()
}

/// The pattern's compared value, read by the OASIS pattern parser (`stix2-patterns`).
fn pattern_value(pattern: &str) -> String {
    let pattern = pattern.to_string();
    let script = "import json,sys\nfrom stix2patterns.pattern import Pattern\n\
                  c = Pattern(sys.stdin.read()).inspect().comparisons\n\
                  print(json.dumps(c['url'][0][2]))";
    let out = std::process::Command::new(oracle::python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(pattern.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "stix2-patterns could not read {pattern}");
    // The parser returns the literal as written, quotes included.
    let literal: String = serde_json::from_slice(&out.stdout).unwrap();
    literal.trim_matches('\'').replace("\\'", "'").replace("\\\\", "\\")
}

#[tokio::test]
async fn urls_with_forbidden_characters_are_published_encoded_and_strictly_valid() {
    let app = TestApp::spawn_acme().await;
    let import = app.import_id(&phish("alice@acme-corp.com", "m-1")).await;
    let urls = url_items(&app, import).await;
    for as_found in [PIXEL, AD, PRIZE] {
        assert!(urls.iter().any(|u| u == as_found), "{as_found} extracted as found: {urls:?}");
    }
    let (status, c) = app.commit(import, json!({ "title": "Prize phish", "tlp": "green" })).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let pixel = app.indicator("url", PIXEL).await;
    let ad = app.indicator("url", AD).await;
    let prize = app.indicator("url", PRIZE).await;
    for i in [&pixel, &ad, &prize] {
        assert_eq!(app.set_status(i["id"].as_i64().unwrap(), "active").await["published"], true);
    }

    let password = app.add_user("firewall", "reader").await;
    app.grant("active-indicators", "firewall", true, false).await;
    let objects = app.poll_active("firewall", &password, None).await;
    assert_strictly_valid(&objects);
    for (as_found, uri) in [(PIXEL, PIXEL_URI), (AD, AD_URI), (PRIZE, PRIZE_URI)] {
        let sco: Vec<&Value> = objects.iter().filter(|o| o["type"] == "url" && o["value"] == uri).collect();
        assert_eq!(sco.len(), 1, "one url SCO {uri}");
        assert!(!objects.iter().any(|o| o["value"] == as_found), "{as_found} never leaves as found");
        let ind: Vec<&Value> =
            objects.iter().filter(|o| o["type"] == "indicator" && o["name"] == as_found).collect();
        assert_eq!(ind.len(), 1, "one indicator named as found: {as_found}");
        // The pattern compares exactly the SCO's value, and the observation names that SCO.
        assert_eq!(pattern_value(ind[0]["pattern"].as_str().unwrap()), uri);
        let observed = objects
            .iter()
            .find(|o| o["type"] == "observed-data" && o["object_refs"] == json!([sco[0]["id"]]))
            .unwrap_or_else(|| panic!("an observed-data names {}", sco[0]["id"]));
        assert!(objects.iter().any(|o| o["type"] == "relationship"
            && o["source_ref"] == ind[0]["id"]
            && o["target_ref"] == observed["id"]));
    }
    // The SCO id is python-stix2's for the emitted value.
    let ids = oracle::run("sco_ids.py", &json!({ "objects": [{ "type": "url", "value": PIXEL_URI }] }));
    let pixel_sco = objects.iter().find(|o| o["value"] == PIXEL_URI).unwrap();
    assert_eq!(ids["results"][0]["id"], pixel_sco["id"], "{ids}");

    // The STIX export says the same.
    app.make_export(json!({ "name": "bundle", "format": "stix" })).await;
    let feed = app.as_admin(app.get("/api/v1/exports/bundle/feed")).send().await.unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    let bundle: Value = serde_json::from_str(&feed.text().await.unwrap()).unwrap();
    let exported = bundle["objects"].as_array().unwrap();
    let ex = exported.iter().find(|o| o["type"] == "indicator" && o["name"] == PIXEL).unwrap();
    assert_eq!(pattern_value(ex["pattern"].as_str().unwrap()), PIXEL_URI);
    let result =
        tokio::task::spawn_blocking(move || oracle::run("validate.py", &json!({ "bundle": bundle })))
            .await
            .unwrap();
    assert_eq!(result["results"][0]["valid"], true, "{}", result["results"][0]["errors"]);

    let first_version =
        objects.iter().find(|o| o["type"] == "indicator" && o["name"] == PIXEL).unwrap().clone();

    // Reported again: the same indicator, not one per form; its next version keeps the pattern.
    let again = app.import_id(&phish("bob@acme-corp.com", "m-2")).await;
    let (status, c) = app.commit(again, json!({ "title": "Prize phish again", "tlp": "green" })).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(indicators_with_value(&app, PIXEL).await, 1);
    assert_eq!(indicators_with_value(&app, PIXEL_URI).await, 0, "no indicator in the emitted form");
    let pixel_path = format!("/api/v1/indicators/{}", pixel["id"]);
    let (status, body) = app.patch_json(&pixel_path, &json!({ "description": "tracking pixel" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let objects = app.poll_active("firewall", &password, None).await;
    let latest: Vec<&Value> =
        objects.iter().filter(|o| o["type"] == "indicator" && o["name"] == PIXEL).collect();
    assert_eq!(latest.len(), 1, "one indicator");
    assert_eq!(latest[0]["id"], first_version["id"]);
    assert_ne!(latest[0]["modified"], first_version["modified"], "a new version");
    assert_eq!(latest[0]["description"], "tracking pixel");
    assert_eq!(latest[0]["pattern"], first_version["pattern"], "the same pattern before and after");
    // Its observation was already valid: no second one.
    assert_eq!(
        objects
            .iter()
            .filter(|o| o["type"] == "observed-data" && o["object_refs"] == json!([pixel_sco["id"]]))
            .count(),
        1
    );
    assert_eq!(objects.iter().filter(|o| o["type"] == "url" && o["value"] == PIXEL_URI).count(), 1);
    assert_strictly_valid(&objects);
}

/// Hostile values through the builders (as `src/stix/objects/formats.rs` does with thousands):
/// what a builder accepts, the OASIS validator accepts in strict mode; what our host-name rule
/// refuses, it refuses too.
#[test]
fn hostile_values_the_builders_accept_pass_the_oasis_validator() {
    use harpoon::stix::objects::{
        Artifact, DomainName, EmailAddr, ExternalReference, File, HashAlgorithm, Hashes, Identity, Indicator,
        StixObject, Url,
    };
    use harpoon::stix::{Pattern, PatternTerm, StixTimestamp};

    let urls = [
        "http://dignitygambling.com/track/[open]",
        "http://ad.doubleclick.net/ad/N1090.cnet/B926801.16;sz=160x600;ord=[timestamp]?",
        "http://x.example/a b\"<>\\^`{|}?q=[1]&r= ä#frag#2[x]",
        "https://例え.テスト:8443/パス?キー=値#é",
        "http://user name:p@ss@[2001:db8::1]:80/%41%zz%",
        "http://[fe80::1%eth0]:8080/",
        "http://[v1.fe80::a+en1]/",
        "http://x.example:notaport/",
        "ftp://[::1]/[::1]",
        "mailto:a[b]@x.example",
        "http://x.example/\u{0}\u{7f}\u{202e}😀",
    ];
    let mut objects: Vec<StixObject> = Vec::new();
    let hashes = || Hashes::new().with(HashAlgorithm::Sha256, &"ab".repeat(32)).unwrap();
    for u in urls {
        objects.push(Url::from_iri(u).unwrap().into());
        let t = PatternTerm::url(u).unwrap();
        let valid_from = StixTimestamp::parse("2026-01-01T00:00:00Z").unwrap();
        objects
            .push(Indicator::new(&Pattern::new(t), valid_from).unwrap().described(u, "hostile URL").into());
        let emitted = Url::from_iri(u).unwrap().value;
        objects.push(Artifact::from_url(&emitted, hashes()).unwrap().into());
        let mut identity = Identity::organization("Acme").unwrap();
        identity.common.external_references.push(ExternalReference::url("src", &emitted, hashes()).unwrap());
        objects.push(identity.into());
    }
    for d in [
        "x.example",
        "xn--bcher-kva.example",
        "EVIL.Example.",
        "a-b.c-d.example",
        &"a".repeat(63),
        "bücher.example",
    ] {
        objects.push(DomainName::new(d).unwrap().into());
    }
    for e in ["a.b+c@x-y.example", "A_B@X.EXAMPLE"] {
        objects.push(EmailAddr::new(e).unwrap().into());
    }
    objects.push(
        File::with_hashes(Hashes::new().with(HashAlgorithm::Md5, &"AB".repeat(16)).unwrap()).unwrap().into(),
    );
    let values: Vec<Value> = objects.iter().map(|o| o.to_value().unwrap()).collect();
    let result = oracle::run("validate.py", &json!({ "objects": values }));
    for (o, r) in values.iter().zip(result["results"].as_array().unwrap()) {
        assert_eq!(r["valid"], true, "{o}: {}", r["errors"]);
    }

    // Host names our builder refuses: the OASIS validator refuses them as well.
    let refused = [
        "_dmarc.x.example",
        "r3--sn-x.example",
        "-a.example",
        "a..example",
        "xn--zz.example",
        "a b.example",
        "Bücher.example",
        "😀.example",
    ];
    let control = StixObject::from(DomainName::new("x.example").unwrap()).to_value().unwrap();
    let mut raw = vec![control.clone()];
    for d in refused {
        assert!(DomainName::new(d).is_err(), "{d}");
        let mut sco = control.clone();
        sco["value"] = json!(d);
        raw.push(sco);
    }
    let result = oracle::run("validate.py", &json!({ "objects": raw }));
    let results = result["results"].as_array().unwrap();
    assert_eq!(results[0]["valid"], true, "control: {}", results[0]["errors"]);
    for (o, r) in raw.iter().zip(results).skip(1) {
        assert_eq!(r["valid"], false, "the OASIS validator accepts {o}");
    }
}

/// The observed-data the indicator row points at, and the SCO ids it names.
async fn observation(app: &TestApp, indicator_id: i64) -> (String, Value) {
    let active = app.active_id().await;
    app.db
        .run(move |conn| {
            let row = harpoon::db::indicators::get(conn, indicator_id)?.unwrap();
            let observed = row.stix_observed_id.unwrap();
            let json = harpoon::db::objects::latest_json(conn, &active, &observed)?.unwrap();
            let refs = serde_json::from_str::<Value>(&json).unwrap()["object_refs"].clone();
            Ok::<_, harpoon::db::DbError>((observed, refs))
        })
        .await
        .unwrap()
}

/// An indicator published before the rule (its observed-data names the SCO of the URL as found,
/// `…/[open]`): stored objects stay as they are, and its next version brings the valid SCO, a
/// new observed-data and a `based-on` to it, all strictly valid, with the encoded pattern.
#[tokio::test]
async fn a_url_published_before_the_rule_gets_a_valid_observation_with_its_next_version() {
    use harpoon::stix::StixTimestamp;
    use harpoon::stix::objects::{ObservedData, Sco, ScoCommon, StixObject, Url};

    let app = TestApp::spawn_acme().await;
    let import = app.import_id(&phish("alice@acme-corp.com", "m-1")).await;
    let (status, c) = app.commit(import, json!({ "title": "Prize phish", "tlp": "green" })).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = app.indicator("url", PIXEL).await["id"].as_i64().unwrap();
    app.set_status(id, "active").await;
    let (current, refs) = observation(&app, id).await;
    let encoded_sco = refs[0].as_str().unwrap().to_string();

    // What the code before `stix::uri` published: the SCO of the value as found.
    let legacy_sco = Sco::to_value(&Url { value: PIXEL.to_string(), common: ScoCommon::default() }).unwrap();
    let at = StixTimestamp::parse("2026-01-01T00:00:00.000Z").unwrap();
    let legacy_id = harpoon::stix::StixId::parse(legacy_sco["id"].as_str().unwrap()).unwrap();
    let legacy_observed =
        StixObject::from(ObservedData::new(at, at, 1, vec![legacy_id]).unwrap()).to_value().unwrap();
    let legacy_observed_id = legacy_observed["id"].as_str().unwrap().to_string();
    let collection = app.active_id().await;
    let stored = legacy_observed_id.clone();
    app.db
        .run(move |conn| {
            let rows: Vec<_> = [legacy_sco, legacy_observed]
                .iter()
                .map(|o| harpoon::service::publish::new_object(o).unwrap())
                .collect();
            harpoon::db::objects::add_to_collection(
                conn,
                &collection,
                &rows,
                harpoon::db::objects::Writer::Publisher,
            )?;
            let changes = harpoon::db::indicators::IndicatorChanges {
                stix_observed_id: Some(Some(stored)),
                ..Default::default()
            };
            harpoon::db::indicators::update(conn, id, &changes)
        })
        .await
        .unwrap();

    let (status, body) = app
        .patch_json(&format!("/api/v1/indicators/{id}"), &json!({ "description": "tracking pixel" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (now, refs) = observation(&app, id).await;
    assert_ne!(now, legacy_observed_id, "a new observation");
    assert_ne!(now, current);
    assert_eq!(refs, json!([encoded_sco]));

    let password = app.add_user("firewall", "reader").await;
    app.grant("active-indicators", "firewall", true, false).await;
    let objects = app.poll_active("firewall", &password, None).await;
    // The legacy objects are still served as stored (immutable).
    assert!(objects.iter().any(|o| o["id"] == legacy_observed_id));
    assert!(objects.iter().any(|o| o["value"] == PIXEL));
    let indicator = objects.iter().find(|o| o["type"] == "indicator" && o["name"] == PIXEL).unwrap();
    assert_eq!(pattern_value(indicator["pattern"].as_str().unwrap()), PIXEL_URI);
    assert!(objects.iter().any(|o| o["type"] == "relationship"
        && o["relationship_type"] == "based-on"
        && o["source_ref"] == indicator["id"]
        && o["target_ref"] == now));
    let fresh: Vec<Value> =
        objects.iter().filter(|o| o["id"] != legacy_observed_id && o["value"] != PIXEL).cloned().collect();
    assert_strictly_valid(&fresh);
}
