//! Collections that cannot leak or be poisoned (issue 14, part 4; design.md §7): forged SCO ids
//! (python `stix2` as the oracle, every SCO type, generated values), conflicts and exact
//! duplicates, what one collection's writer can and cannot do to another collection, the
//! privacy of status, versions and manifest, and computed collections that only Harpoon fills.

use harpoon::db::objects::{self, Added, Writer};
use harpoon::db::{DbConn, DbError};
use harpoon::service::collections::{self, CollectionSpec};
use harpoon::service::publish::{ACTIVE_ALIAS, new_object};
use harpoon::stix::objects::StixObject;
use harpoon::stix::{StixId, Tlp, Tlp1, Tlp2};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TAXII, TestApp, status_json};
use crate::oracle;

const ROOT: &str = "/taxii2/root";
const RULE: &str = "id is not the UUIDv5 of its id-contributing properties";
const CONFLICT: &str = "conflicts with a stored object";

/// A user and its password.
struct User {
    name: &'static str,
    password: String,
}

impl User {
    async fn new(app: &TestApp, name: &'static str) -> Self {
        Self { name, password: app.add_user(name, "analyst").await }
    }
    fn request(&self, app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
        app.request(method, path).basic_auth(self.name, Some(&self.password)).header("Accept", TAXII)
    }
    async fn post_raw(&self, app: &TestApp, alias: &str, body: String) -> (StatusCode, Value) {
        let resp = self
            .request(app, Method::POST, &format!("{ROOT}/collections/{alias}/objects/"))
            .header("Content-Type", TAXII)
            .body(body)
            .send()
            .await
            .unwrap();
        status_json(resp).await
    }
    async fn post(&self, app: &TestApp, alias: &str, objects: &[Value]) -> Value {
        let (status, st) = self.post_raw(app, alias, json!({ "objects": objects }).to_string()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{st}");
        assert_eq!(st["status"], "complete", "{st}");
        st
    }
    async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, Value) {
        status_json(self.request(app, Method::GET, path).send().await.unwrap()).await
    }
}

fn admin_get(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    app.get(path).basic_auth("admin", Some(ADMIN_PASSWORD)).header("Accept", TAXII)
}

/// A collection `alias` that `user` alone reads and writes.
async fn own_collection(app: &TestApp, alias: &str, user: &str) -> String {
    let spec = CollectionSpec {
        title: format!("Collection {alias}"),
        alias: Some(alias.into()),
        readers: vec![user.into()],
        writers: vec![user.into()],
        ..CollectionSpec::default()
    };
    app.db.run(move |conn| Ok::<_, DbError>(collections::create(conn, &spec))).await.unwrap().unwrap().id
}

fn indicator(id: &str, modified: &str, name: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2024-01-01T00:00:00.000Z", "modified": modified, "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"
    })
}

fn domain(value: &str) -> Value {
    let id = StixId::sco("domain-name", &json!({ "value": value })).unwrap();
    json!({ "type": "domain-name", "spec_version": "2.1", "id": id.to_string(), "value": value })
}

/// The details of one outcome of a status resource, as (id, version, message).
fn details(st: &Value, outcome: &str) -> Vec<(String, String, String)> {
    st[outcome]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    (
                        d["id"].as_str().unwrap_or_default().to_string(),
                        d["version"].as_str().unwrap_or_default().to_string(),
                        d["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A small deterministic generator (xorshift64*): the same values on every run and backend.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize])).collect()
    }
    /// A label with the characters canonical JSON must get right: non-ASCII, quotes,
    /// backslashes, astral-plane emoji.
    fn text(&mut self) -> String {
        const PIECES: &[&str] =
            &["a", "b", "z", "0", "7", "-", "ä", "ß", "é", "例", "え", "🎣", "\"", "\\", " ", "x", "q"];
        let len = 3 + self.below(10);
        (0..len).map(|_| PIECES[self.below(PIECES.len() as u64) as usize]).collect()
    }
    fn word(&mut self) -> String {
        let len = 3 + self.below(8);
        (0..len).map(|_| char::from(b'a' + self.below(26) as u8)).collect()
    }
    fn hashes(&mut self) -> Value {
        let all = [("MD5", 32), ("SHA-1", 40), ("SHA-256", 64), ("SHA-512", 128)];
        let keep = 1 + self.below(4) as usize;
        let start = self.below(4) as usize;
        let mut map = serde_json::Map::new();
        for k in 0..keep {
            let (name, len) = all[(start + k) % 4];
            map.insert(name.into(), json!(self.hex(len)));
        }
        Value::Object(map)
    }
}

/// SCOs of every STIX 2.1 type (the eighteen our ingest accepts: eight with a schema of their
/// own, the rest through the common SCO schema), with generated values; no ids yet.
fn generated_scos(seed: u64, rounds: usize) -> Vec<Value> {
    let mut g = Gen(seed);
    let mut out = Vec::new();
    for _ in 0..rounds {
        let ipv4 = format!("{}.{}.{}.{}", g.below(256), g.below(256), g.below(256), g.below(256));
        let ipv4_id = StixId::sco("ipv4-addr", &json!({ "value": ipv4 })).unwrap().to_string();
        let email = format!("{}@{}.example", g.word(), g.word());
        let email_id = StixId::sco("email-addr", &json!({ "value": email })).unwrap().to_string();
        let dir_id = StixId::sco("directory", &json!({ "path": "C:\\x" })).unwrap().to_string();
        let mut batch = vec![
            json!({"type": "url", "value": format!("https://{}.example/{}?q={}", g.word(), g.text(), g.text())}),
            json!({"type": "domain-name", "value": format!("{}.{}.example", g.word(), g.word())}),
            json!({"type": "ipv4-addr", "value": ipv4}),
            json!({"type": "ipv6-addr", "value": format!("2001:db8:{}::{}", g.hex(4), g.hex(3))}),
            json!({"type": "email-addr", "value": email, "display_name": g.text()}),
            json!({"type": "mac-addr", "value": (0..6).map(|_| g.hex(2)).collect::<Vec<_>>().join(":")}),
            json!({"type": "file", "hashes": g.hashes(), "name": g.text(), "size": g.below(1 << 20)}),
            json!({"type": "file", "name": g.text(), "parent_directory_ref": dir_id}),
            json!({"type": "artifact", "payload_bin": "aGVsbG8gd29ybGQ=", "mime_type": "text/plain"}),
            json!({"type": "artifact", "url": format!("https://{}.example/a.bin", g.word()), "hashes": g.hashes()}),
            json!({"type": "autonomous-system", "number": g.below(4_000_000_000), "name": g.text()}),
            json!({"type": "directory", "path": format!("C:\\Users\\{}\\{}", g.word(), g.text())}),
            json!({"type": "email-message", "is_multipart": false, "from_ref": email_id, "subject": g.text(), "body": g.text()}),
            json!({"type": "email-message", "is_multipart": false, "subject": g.text()}),
            json!({"type": "mutex", "name": g.text()}),
            json!({"type": "network-traffic", "src_ref": ipv4_id, "dst_port": g.below(65536), "protocols": ["ipv4", "tcp"]}),
            json!({"type": "software", "name": g.text(), "vendor": g.word(), "version": format!("{}.{}", g.below(20), g.below(10))}),
            json!({"type": "user-account", "user_id": g.word(), "account_login": g.word(), "account_type": "unix"}),
            json!({"type": "windows-registry-key", "key": format!("HKEY_LOCAL_MACHINE\\Software\\{}", g.word()),
                   "values": [{"name": g.word(), "data": g.text(), "data_type": "REG_SZ"}]}),
            json!({"type": "x509-certificate", "serial_number": (0..8).map(|_| g.hex(2)).collect::<Vec<_>>().join(":"), "hashes": g.hashes()}),
            // No ID-contributing property present: any UUID is allowed (§2.9).
            json!({"type": "process", "pid": g.below(65536)}),
            json!({"type": "email-message", "is_multipart": true}),
        ];
        out.append(&mut batch);
    }
    out
}

const SCO_TYPES: [&str; 18] = [
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

/// Python stix2's id for each object (ids dropped first), in order.
fn python_ids(objects: &[Value]) -> Vec<String> {
    let out = oracle::run("sco_ids.py", &json!({ "objects": objects }));
    out["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(objects)
        .map(|(r, o)| r["id"].as_str().unwrap_or_else(|| panic!("python refused {o}: {}", r["error"])).into())
        .collect()
}

#[test]
fn taxii_trust_sco_ids_match_python_stix2_on_generated_values() {
    let objects = generated_scos(0x5eed_0014, 12);
    let python = python_ids(&objects);
    let mut v5 = 0;
    for (object, theirs) in objects.iter().zip(&python) {
        let object_type = object["type"].as_str().unwrap();
        let ours =
            StixId::sco(object_type, object).unwrap_or_else(|e| panic!("ours failed on {object}: {e}"));
        if ours.uuid().get_version_num() == 4 {
            // Nothing contributes: both sides pick a random UUIDv4.
            assert_eq!(StixId::parse(theirs).unwrap().uuid().get_version_num(), 4, "{object}");
            continue;
        }
        assert_eq!(ours.as_str(), theirs, "id of {object}");
        v5 += 1;
    }
    let types: std::collections::BTreeSet<&str> =
        objects.iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(types.into_iter().collect::<Vec<_>>(), SCO_TYPES, "every SCO type is generated");
    assert!(v5 >= 12 * 20, "only {v5} UUIDv5 ids compared");
}

#[tokio::test]
async fn taxii_trust_forged_sco_ids_fail_naming_the_rule_for_every_sco_type() {
    let app = TestApp::spawn().await;
    let alice = User::new(&app, "alice").await;
    own_collection(&app, "a", "alice").await;
    let objects = generated_scos(0x0bad_1d05, 2);
    let python = python_ids(&objects);
    let with_id = |o: &Value, id: &str| {
        let mut o = o.clone();
        o["id"] = json!(id);
        o["spec_version"] = json!("2.1");
        o
    };
    // The right ids (python's) are stored, for every type.
    let right: Vec<Value> = objects.iter().zip(&python).map(|(o, id)| with_id(o, id)).collect();
    let st = alice.post(&app, "a", &right).await;
    assert_eq!(st["success_count"].as_u64(), Some(right.len() as u64), "{st}");

    // Forged: the id of another object of the same type (a v5 id that is not this value's),
    // or a random one. Refused with the rule and the expected (python) id, except where no
    // property contributes (any UUID is allowed).
    let mut forged = Vec::new();
    let mut expected_failures = Vec::new();
    for (i, (o, id)) in objects.iter().zip(&python).enumerate() {
        let object_type = o["type"].as_str().unwrap();
        let other = objects
            .iter()
            .zip(&python)
            .skip(i + 1)
            .chain(objects.iter().zip(&python).take(i))
            .find(|(p, pid)| p["type"] == o["type"] && *pid != id)
            .map(|(_, pid)| pid.clone());
        let v5 = StixId::parse(id).unwrap().uuid().get_version_num() == 5;
        // Where nothing contributes, a fresh random id (another stored object's id would be a
        // conflict, not a forgery).
        let fake = other.filter(|_| v5).unwrap_or_else(|| StixId::new_v4(object_type).unwrap().to_string());
        forged.push(with_id(o, &fake));
        if v5 {
            expected_failures.push((fake, id.clone()));
        }
    }
    let (status, st) = alice.post_raw(&app, "a", json!({ "objects": forged }).to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let failures = details(&st, "failures");
    assert_eq!(failures.len(), expected_failures.len(), "{st}");
    for ((id, _, message), (fake, expected)) in failures.iter().zip(&expected_failures) {
        assert_eq!(id, fake);
        assert!(message.contains(RULE), "{message}");
        assert!(message.ends_with(&format!("expected {expected}")), "{message}");
    }
    let failing_types: std::collections::BTreeSet<&str> =
        failures.iter().map(|(id, ..)| id.split("--").next().unwrap()).collect();
    assert_eq!(failing_types.len(), 17, "every type with contributing properties: {failing_types:?}");

    // Python's verdict on the very objects posted agrees with Harpoon's, object by object.
    let verdicts = |objects: &[Value]| -> Vec<Option<bool>> {
        let out = oracle::run("sco_ids.py", &json!({ "objects": objects }));
        out["results"].as_array().unwrap().iter().map(|r| r["matches"].as_bool()).collect()
    };
    assert!(verdicts(&right).iter().all(|v| *v != Some(false)), "python accepts every right id");
    let python_refuses: Vec<String> = forged
        .iter()
        .zip(verdicts(&forged))
        .filter(|(_, v)| *v == Some(false))
        .map(|(o, _)| o["id"].as_str().unwrap().to_string())
        .collect();
    let harpoon_refuses: Vec<String> = failures.iter().map(|f| f.0.clone()).collect();
    assert_eq!(harpoon_refuses, python_refuses);

    // The message names the properties, in specification order.
    let mut d = domain("forged.example");
    d["id"] = domain("victim.example")["id"].clone();
    let st = alice.post(&app, "a", &[d]).await;
    assert_eq!(
        details(&st, "failures")[0].2,
        format!("{RULE} (value): expected {}", domain("forged.example")["id"].as_str().unwrap())
    );
    // Uppercase hex is another id string: refused too (the store matches ids exactly).
    let mut upper = domain("case.example");
    upper["id"] = json!(upper["id"].as_str().unwrap().to_uppercase().replace("DOMAIN-NAME", "domain-name"));
    let st = alice.post(&app, "a", &[upper]).await;
    assert_eq!(st["failure_count"], 1, "{st}");

    // Nothing forged was stored: the collection holds the right objects (the artifact with a
    // fixed payload comes twice: one record) and the random-id ones.
    let (_, manifest) = alice.get(&app, &format!("{ROOT}/collections/a/manifest/?match[version]=all")).await;
    let stored: std::collections::BTreeSet<&str> =
        manifest["objects"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut want: std::collections::BTreeSet<&str> = python.iter().map(String::as_str).collect();
    want.extend(
        forged
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .filter(|id| !expected_failures.iter().any(|(f, _)| f == id)),
    );
    assert_eq!(stored, want);
}

#[tokio::test]
async fn taxii_trust_tlp_marking_definitions_must_be_the_published_objects() {
    let app = TestApp::spawn().await;
    let alice = User::new(&app, "alice").await;
    own_collection(&app, "a", "alice").await;
    let green = StixObject::from(Tlp::V1(Tlp1::Green).definition()).to_value().unwrap();
    let mut white_as_red = StixObject::from(Tlp::V1(Tlp1::White).definition()).to_value().unwrap();
    white_as_red["definition"] = json!({ "tlp": "red" });
    let mut clear_renamed = StixObject::from(Tlp::V2(Tlp2::Clear).definition()).to_value().unwrap();
    clear_renamed["name"] = json!("TLP:CLEAR (really amber)");
    let clear = StixObject::from(Tlp::V2(Tlp2::Clear).definition()).to_value().unwrap();
    let st = alice.post(&app, "a", &[green, white_as_red, clear_renamed, clear]).await;
    assert_eq!(st["success_count"], 2, "the published objects: {st}");
    // TLP 1.0 definitions are pinned by the schema already; TLP 2.0 ones by the ingest rule.
    let failures = details(&st, "failures");
    assert_eq!(failures.len(), 2, "{st}");
    assert!(failures[0].2.contains("/definition: const"), "{st}");
    assert_eq!(
        failures[1].2,
        format!(
            "{} is the TLP:CLEAR marking definition: it must be exactly the published object",
            Tlp::V2(Tlp2::Clear).marking_ref()
        )
    );
}

#[tokio::test]
async fn taxii_trust_conflicts_fail_duplicates_succeed_and_collections_stay_apart() {
    let app = TestApp::spawn().await;
    let alice = User::new(&app, "alice").await;
    let bob = User::new(&app, "bob").await;
    let a_id = own_collection(&app, "a", "alice").await;
    own_collection(&app, "b", "bob").await;
    let x_id = "indicator--0e0e0e0e-1111-4222-8333-444444444444";
    let x = indicator(x_id, "2024-02-01T00:00:00.000Z", "alice's secret name");
    let mut sco = domain("shared.example");
    sco["x_alice_note"] = json!("seen in alice's honeypot");
    let st = alice.post(&app, "a", &[x.clone(), sco.clone()]).await;
    assert_eq!(st["success_count"], 2, "{st}");
    let a_objects = format!("{ROOT}/collections/a/objects/?match[version]=all");
    let a_manifest = format!("{ROOT}/collections/a/manifest/?match[version]=all");
    let (_, a_before) = alice.get(&app, &a_objects).await;
    let (_, a_manifest_before) = alice.get(&app, &a_manifest).await;

    // Bob sends other content under X's id and version, and a plain copy of the SCO: both are
    // conflicts, and the message says nothing about the stored object or where it is.
    let x_other = indicator(x_id, "2024-02-01T00:00:00.000Z", "bob's name");
    let plain = domain("shared.example");
    let (status, st) = bob.post_raw(&app, "b", json!({ "objects": [x_other, plain] }).to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!((st["success_count"].as_u64(), st["failure_count"].as_u64()), (Some(0), Some(2)), "{st}");
    let failures = details(&st, "failures");
    assert_eq!(failures[0], (x_id.to_string(), "2024-02-01T00:00:00.000Z".to_string(), CONFLICT.to_string()));
    assert_eq!(failures[1].2, CONFLICT);
    let text = st.to_string();
    for secret in ["alice", "honeypot", "Collection a", a_id.as_str()] {
        assert!(!text.contains(secret), "the status leaks {secret}: {text}");
    }
    // Bob's collection serves nothing of it.
    let b_objects = format!("{ROOT}/collections/b/objects/?match[version]=all");
    let (status, b) = bob.get(&app, &b_objects).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(b["objects"], json!([]), "{b}");
    let (status, _) = bob.get(&app, &format!("{ROOT}/collections/b/objects/{x_id}/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The identical object (another layout and key order: a different client) is a duplicate:
    // success, and Bob's collection serves it.
    let mut keys: Vec<(String, Value)> = x.as_object().unwrap().clone().into_iter().collect();
    keys.reverse();
    let relaid = format!(
        "{{ \"objects\" : [ {{ {} }} ] }}",
        keys.iter().map(|(k, v)| format!("\n  {k:?} :  {v}")).collect::<Vec<_>>().join(" ,")
    );
    let (status, st) = bob.post_raw(&app, "b", relaid).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(st["success_count"], 1, "{st}");
    let st = bob.post(&app, "b", std::slice::from_ref(&sco)).await;
    assert_eq!(st["success_count"], 1, "{st}");
    let sco_version_in_status = details(&st, "successes")[0].1.clone();
    let (_, b) = bob.get(&app, &b_objects).await;
    let served: Vec<Value> = b["objects"].as_array().unwrap().clone();
    assert_eq!(served.len(), 2);
    assert_eq!(served[0], x, "Bob's collection serves exactly the object Bob sent");
    assert_eq!(served[1], sco);

    // The SCO's version in Bob's collection is its date_added there, not when Alice stored it.
    let (_, b_manifest) = bob.get(&app, &format!("{ROOT}/collections/b/manifest/?match[version]=all")).await;
    let record =
        b_manifest["objects"].as_array().unwrap().iter().find(|r| r["id"] == sco["id"]).unwrap().clone();
    let a_record = a_manifest_before["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == sco["id"])
        .unwrap()
        .clone();
    assert_ne!(record["version"], a_record["version"], "no hint of Alice's copy: {record} {a_record}");
    assert_eq!(record["version"].as_str().unwrap(), sco_version_in_status);
    let micros = |v: &Value| harpoon::stix::StixTimestamp::parse(v.as_str().unwrap()).unwrap().as_micros();
    assert_eq!(micros(&record["version"]), micros(&record["date_added"]), "{record}");

    // Bob deletes X from his collection: Alice's is untouched (objects, flags, date_added).
    let resp = bob
        .request(&app, Method::DELETE, &format!("{ROOT}/collections/b/objects/{x_id}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, _) = bob.get(&app, &format!("{ROOT}/collections/b/objects/{x_id}/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, a_after) = alice.get(&app, &a_objects).await;
    let (_, a_manifest_after) = alice.get(&app, &a_manifest).await;
    assert_eq!(a_after, a_before, "what Bob did changed nothing Alice serves");
    assert_eq!(a_manifest_after, a_manifest_before);
    // And Bob still cannot read Alice's collection.
    let (status, _) = bob.get(&app, &format!("{ROOT}/collections/a/objects/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn taxii_trust_conflicts_in_one_envelope_and_in_the_background() {
    let app = TestApp::spawn_with(|s| s.taxii.background_threshold = 3).await;
    let alice = User::new(&app, "alice").await;
    own_collection(&app, "a", "alice").await;
    let id = "indicator--0e0e0e0e-2222-4222-8333-444444444444";
    let v = |name: &str| indicator(id, "2024-03-01T00:00:00.000Z", name);
    // Small request: the second, different object under the same id and version conflicts.
    let st = alice.post(&app, "a", &[v("one"), v("one"), v("two")]).await;
    assert_eq!((st["success_count"].as_u64(), st["failure_count"].as_u64()), (Some(2), Some(1)), "{st}");
    assert_eq!(details(&st, "failures")[0].2, CONFLICT);
    // Background request (over the threshold): the same outcomes once drained.
    let body = json!({ "objects": [v("one"), v("three"), domain("bg.example"), v("four")] }).to_string();
    let (status, st) = alice.post_raw(&app, "a", body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(st["status"], "pending", "{st}");
    let sid = st["id"].as_str().unwrap().to_string();
    let mut done = Value::Null;
    for _ in 0..200 {
        let (_, s) = alice.get(&app, &format!("{ROOT}/status/{sid}/")).await;
        if s["status"] == "complete" {
            done = s;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        (done["success_count"].as_u64(), done["failure_count"].as_u64()),
        (Some(2), Some(2)),
        "{done}"
    );
    assert!(details(&done, "failures").iter().all(|(_, _, m)| m == CONFLICT), "{done}");
    let (_, one) = alice.get(&app, &format!("{ROOT}/collections/a/objects/{id}/?match[version]=all")).await;
    assert_eq!(one["objects"].as_array().unwrap().len(), 1);
    assert_eq!(one["objects"][0]["name"], "one");
}

#[tokio::test]
async fn taxii_trust_status_versions_and_manifest_reveal_nothing_of_other_collections() {
    let app = TestApp::builder().api_root("partners", "Partner sharing").spawn().await;
    let alice = User::new(&app, "alice").await;
    let bob = User::new(&app, "bob").await;
    own_collection(&app, "a", "alice").await;
    own_collection(&app, "b", "bob").await;
    let id = "indicator--0e0e0e0e-3333-4222-8333-444444444444";
    let only_a = "indicator--0e0e0e0e-4444-4222-8333-444444444444";
    let v1 = indicator(id, "2024-04-01T00:00:00.000Z", "v1");
    let v2 = indicator(id, "2024-04-02T00:00:00.000Z", "v2");
    let st_a =
        alice.post(&app, "a", &[v1.clone(), v2, indicator(only_a, "2024-04-01T00:00:00.000Z", "a")]).await;
    let st_b = bob.post(&app, "b", std::slice::from_ref(&v1)).await;
    assert_eq!(st_b["success_count"], 1);
    // The status lists exactly what Bob sent.
    assert_eq!(
        details(&st_b, "successes"),
        [(id.to_string(), "2024-04-01T00:00:00.000Z".to_string(), String::new())]
    );
    assert_eq!(st_b["total_count"], 1);

    // Status resources: the requester and admins only.
    let a_status = format!("{ROOT}/status/{}/", st_a["id"].as_str().unwrap());
    let (status, _) = bob.get(&app, &a_status).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, mine) = alice.get(&app, &a_status).await;
    assert_eq!((status, mine["total_count"].as_u64()), (StatusCode::OK, Some(3)));
    let resp = admin_get(&app, &a_status).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app.get(&a_status).header("Accept", TAXII).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = alice.get(&app, &a_status.replace("/root/", "/partners/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a status lives under its collection's API root");

    // Versions, manifest and objects of B: only what B holds.
    let base = format!("{ROOT}/collections/b");
    let (_, versions) = bob.get(&app, &format!("{base}/objects/{id}/versions/")).await;
    assert_eq!(versions["versions"], json!(["2024-04-01T00:00:00.000Z"]));
    let (_, manifest) = bob.get(&app, &format!("{base}/manifest/?match[version]=all")).await;
    assert_eq!(manifest["objects"].as_array().unwrap().len(), 1, "{manifest}");
    let (_, all) =
        bob.get(&app, &format!("{base}/objects/?match[version]=all&match[id]={id},{only_a}")).await;
    assert_eq!(all["objects"].as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all["objects"][0], v1);
    for path in [format!("{base}/objects/{only_a}/"), format!("{base}/objects/{only_a}/versions/")] {
        let (status, body) = bob.get(&app, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let resp = bob.request(&app, Method::DELETE, &format!("{base}/objects/{only_a}/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "an object only in A cannot be deleted through B");
    let (_, still) = alice.get(&app, &format!("{ROOT}/collections/a/objects/{only_a}/")).await;
    assert_eq!(still["objects"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn taxii_trust_computed_collections_take_objects_from_harpoon_only() {
    let app = TestApp::spawn().await;
    let carol = User::new(&app, "carol").await;
    let active = app
        .db
        .run(|conn| harpoon::db::collections::by_id_or_alias(conn, ACTIVE_ALIAS))
        .await
        .unwrap()
        .expect("active-indicators exists at start");
    assert_eq!(active.kind, "computed");
    // Even a can_write grant does not make it writable.
    let cid = active.id.clone();
    app.db
        .run(move |conn| {
            let uid = harpoon::db::users::by_name(conn, "carol")?.unwrap().id;
            harpoon::db::collections::set_grant(
                conn,
                &harpoon::db::collections::GrantRow {
                    user_id: uid,
                    collection_id: cid,
                    can_read: true,
                    can_write: true,
                },
            )
        })
        .await
        .unwrap();
    let body = json!({ "objects": [domain("planted.example")] }).to_string();
    let path = format!("{ROOT}/collections/{ACTIVE_ALIAS}/objects/");
    for who in ["admin", "carol"] {
        let password = if who == "admin" { ADMIN_PASSWORD.to_string() } else { carol.password.clone() };
        let resp = app
            .post(&path)
            .basic_auth(who, Some(password))
            .header("Content-Type", TAXII)
            .header("Accept", TAXII)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who}");
    }
    let identity_id = {
        let (_, env) = carol.get(&app, &format!("{path}?match[type]=identity")).await;
        env["objects"][0]["id"].as_str().unwrap().to_string()
    };
    let resp = app
        .request(Method::DELETE, &format!("{path}{identity_id}/"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "no DELETE in a computed collection either");

    // Below HTTP: only the publisher may add to it.
    let cid = active.id.clone();
    let refused = app
        .db
        .run(move |conn| {
            let rows = vec![new_object(&domain("planted.example")).unwrap()];
            let client = objects::add_to_collection(conn, &cid, &rows, Writer::Client);
            let sharing = objects::add_to_collection(conn, &cid, &rows, Writer::Sharing);
            Ok::<_, DbError>((client, sharing))
        })
        .await
        .unwrap();
    assert!(matches!(refused.0, Err(DbError::Refused(_))), "{:?}", refused.0);
    assert!(matches!(refused.1, Err(DbError::Refused(_))), "{:?}", refused.1);
    let (_, env) = carol.get(&app, &format!("{path}?match[type]=domain-name")).await;
    assert_eq!(env["objects"], json!([]), "nothing was planted: {env}");
}

#[tokio::test]
async fn taxii_trust_harpoon_publishes_its_own_observable_whatever_a_partner_stored() {
    let app = TestApp::spawn().await;
    let partner = User::new(&app, "partner").await;
    own_collection(&app, "inbound", "partner").await;
    // The partner stores its copy of an observable first, with a property of its own.
    let mut theirs = domain("phish.example");
    theirs["x_partner_score"] = json!(99);
    let st = partner.post(&app, "inbound", &[theirs.clone()]).await;
    assert_eq!(st["success_count"], 1);
    let active = app
        .db
        .run(|conn| harpoon::db::collections::by_id_or_alias(conn, ACTIVE_ALIAS))
        .await
        .unwrap()
        .unwrap();
    let ours = domain("phish.example");
    let (cid, row) = (active.id.clone(), new_object(&ours).unwrap());
    let added = app
        .db
        .run(move |conn: &mut DbConn| objects::add_to_collection(conn, &cid, &[row], Writer::Publisher))
        .await
        .unwrap();
    assert!(matches!(added[..], [Added::New { .. }]), "{added:?}");
    let in_active = served(&app, ACTIVE_ALIAS, "domain-name").await;
    assert_eq!(
        in_active,
        std::slice::from_ref(&ours),
        "active-indicators serves Harpoon's observable, not the partner's"
    );
    assert_eq!(served(&app, "inbound", "domain-name").await, [theirs.clone()]);

    // A collection both sides write holds both texts as two versions, ordered (and flagged
    // first/latest) by when each arrived there, which is what its versions say.
    let shared = own_collection(&app, "shared", "partner").await;
    let row = new_object(&ours).unwrap();
    app.db.run(move |conn| objects::add_to_collection(conn, &shared, &[row], Writer::Sharing)).await.unwrap();
    let st = partner.post(&app, "shared", std::slice::from_ref(&theirs)).await;
    assert_eq!(st["success_count"], 1, "{st}");
    let sco_id = ours["id"].as_str().unwrap();
    let (_, last) = partner.get(&app, &format!("{ROOT}/collections/shared/objects/{sco_id}/")).await;
    assert_eq!(last["objects"], json!([theirs]), "the latest arrival is the latest version");
    let (_, first) =
        partner.get(&app, &format!("{ROOT}/collections/shared/objects/{sco_id}/?match[version]=first")).await;
    assert_eq!(first["objects"], json!([ours]));
    let (_, versions) =
        partner.get(&app, &format!("{ROOT}/collections/shared/objects/{sco_id}/versions/")).await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2, "{versions}");

    // A versioned object of Harpoon's whose id and version a partner took with other content
    // is refused loudly, never published as the partner's.
    let id = "indicator--0e0e0e0e-5555-4222-8333-444444444444";
    partner.post(&app, "inbound", &[indicator(id, "2024-05-01T00:00:00.000Z", "partner's")]).await;
    let (cid, row) =
        (active.id.clone(), new_object(&indicator(id, "2024-05-01T00:00:00.000Z", "ours")).unwrap());
    let refused = app
        .db
        .run(move |conn| Ok::<_, DbError>(objects::add_to_collection(conn, &cid, &[row], Writer::Publisher)))
        .await
        .unwrap();
    assert!(matches!(refused, Err(DbError::Refused(ref m)) if m.contains(CONFLICT)), "{refused:?}");
}

/// Every object of one type a collection serves (as the admin sees it).
async fn served(app: &TestApp, alias: &str, object_type: &str) -> Vec<Value> {
    let resp = admin_get(
        app,
        &format!("{ROOT}/collections/{alias}/objects/?match[type]={object_type}&match[version]=all"),
    )
    .send()
    .await
    .unwrap();
    let (_, env) = status_json(resp).await;
    env["objects"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn taxii_trust_rows_stored_before_digests_are_compared_on_read() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let alice = User::new(&app, "alice").await;
    let bob = User::new(&app, "bob").await;
    own_collection(&app, "a", "alice").await;
    own_collection(&app, "b", "bob").await;
    let id = "indicator--0e0e0e0e-6666-4222-8333-444444444444";
    let x = indicator(id, "2024-06-01T00:00:00.000Z", "x");
    alice.post(&app, "a", &[x.clone(), domain("legacy.example")]).await;
    // As a database migrated from before the digest column: no digests.
    app.db
        .run(|conn| {
            diesel::sql_query("UPDATE stix_objects SET content_sha256 = NULL").execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    let st = bob
        .post(
            &app,
            "b",
            &[x.clone(), indicator(id, "2024-06-01T00:00:00.000Z", "y"), domain("legacy.example")],
        )
        .await;
    let outcomes: Vec<String> = details(&st, "successes").into_iter().map(|d| d.0).collect();
    assert_eq!(
        outcomes,
        [id.to_string(), domain("legacy.example")["id"].as_str().unwrap().to_string()],
        "{st}"
    );
    assert_eq!(details(&st, "failures")[0].2, CONFLICT);
}
