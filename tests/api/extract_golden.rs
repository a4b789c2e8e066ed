//! Golden tests for extraction: `tests/fixtures/mail/NAME.{eml,msg,mbox,txt}` with
//! `NAME.expected.json` listing what must be found, what must not, and key attributes. A mismatch
//! writes `NAME.actual.json` (same format, everything found) so the diff is one command away.
//!
//! Expected format (every key optional):
//! - `found`: `"kind:value"` that must be proposed (found and not whitelisted);
//! - `only`: when true, `found` must be exactly the proposed set;
//! - `absent`: `"kind:value"` that must not be found at all;
//! - `whitelisted`: `{"kind:value": "reason"}`;
//! - `defanged`: `"kind:value"` that must be marked defanged;
//! - `attrs`: reported-message attributes (`subject`, `from`, `from_name`, `reply_to`,
//!   `return_path`, `date`, `message_id`, `x_mailer`, `user_agent`, `x_originating_ip`, `spf`,
//!   `dkim`, `dmarc`, `hops`, `hop0_ip`, `envelope_from`, `to`);
//! - `attachments`: `"name"` or `"name|sha256"`, `"member:name"` for archive members;
//! - `roles`: the roles of all messages, in order; `warnings`: warning kinds that must appear;
//! - `options`: `{"own_domains": [...], "own_mail_hosts": [...], "max_*": n}`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use harpoon::extract::{self, ExtractOptions, Extraction, MessageRole};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

fn key(o: &extract::Observable) -> String {
    format!("{}:{}", o.indicator.kind.as_str(), o.indicator.value)
}

fn enum_str<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn options(exp: &Value) -> ExtractOptions {
    let mut o = ExtractOptions::default();
    let strs = |k: &str| -> Vec<String> {
        exp.pointer(&format!("/options/{k}"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    o.own_domains = strs("own_domains");
    o.own_mail_hosts = strs("own_mail_hosts");
    let num = |k: &str| exp.pointer(&format!("/options/{k}")).and_then(Value::as_u64);
    if let Some(n) = num("max_nesting") {
        o.max_nesting = n as usize;
    }
    if let Some(n) = num("max_parts") {
        o.max_parts = n as usize;
    }
    if let Some(n) = num("max_archive_members") {
        o.max_archive_members = n as usize;
    }
    if let Some(n) = num("max_observables") {
        o.max_observables = n as usize;
    }
    if let Some(n) = num("max_header_line") {
        o.max_header_line = n as usize;
    }
    if let Some(n) = num("max_message_bytes") {
        o.max_message_bytes = n as usize;
    }
    if let Some(n) = num("max_mime_depth") {
        o.max_mime_depth = n as usize;
    }
    o
}

/// The compact form of an extraction (also what `NAME.actual.json` holds).
fn compact(x: &Extraction) -> Value {
    let found: BTreeSet<String> = x.proposed().map(key).collect();
    let whitelisted: BTreeMap<String, String> =
        x.observables.iter().filter_map(|o| o.whitelisted.map(|w| (key(o), enum_str(&w)))).collect();
    let defanged: BTreeSet<String> = x.observables.iter().filter(|o| o.defanged).map(key).collect();
    let mut attrs = BTreeMap::new();
    if let Some(m) = x.reported() {
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                attrs.insert(k.to_owned(), v);
            }
        };
        put("subject", m.subject.clone());
        put("from", m.from.first().and_then(|b| b.address.clone()));
        put("from_name", m.from.first().and_then(|b| b.name.clone()));
        put("to", m.to.first().and_then(|b| b.address.clone()));
        put("reply_to", m.reply_to.first().and_then(|b| b.address.clone()));
        put("return_path", m.return_path.clone());
        put("date", m.date.clone());
        put("message_id", m.message_id.clone());
        put("x_mailer", m.x_mailer.clone());
        put("user_agent", m.user_agent.clone());
        put("x_originating_ip", m.x_originating_ip.clone());
        put("spf", m.auth.spf.clone());
        put("dkim", m.auth.dkim.clone());
        put("dmarc", m.auth.dmarc.clone());
        put("hops", Some(m.received.len().to_string()));
        put("hop0_ip", m.received.first().and_then(|h| h.from_ip.clone()));
    }
    let envelope = x.messages.iter().find(|m| m.role == MessageRole::ReporterEnvelope);
    if let Some(a) = envelope.and_then(|e| e.from.first()).and_then(|b| b.address.clone()) {
        attrs.insert("envelope_from".into(), a);
    }
    let mut attachments = Vec::new();
    for a in &x.attachments {
        let name = a.name.clone().unwrap_or_default();
        attachments.push(format!("{name}|{}", a.hashes.sha256));
        for m in &a.members {
            let h = m.hashes.as_ref().map_or("-".to_owned(), |h| h.sha256.clone());
            attachments.push(format!("member:{}|{h}", m.name));
        }
    }
    let roles: Vec<String> = x.messages.iter().map(|m| enum_str(&m.role)).collect();
    let warnings: BTreeSet<String> = x.warnings.iter().map(|w| enum_str(&w.kind)).collect();
    json!({
        "found": found,
        "whitelisted": whitelisted,
        "defanged": defanged,
        "attrs": attrs,
        "attachments": attachments,
        "roles": roles,
        "warnings": warnings,
    })
}

fn str_list(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Compares; returns the list of problems.
fn compare(exp: &Value, act: &Value, x: &Extraction) -> Vec<String> {
    let mut errs = Vec::new();
    let found: BTreeSet<String> = str_list(act, "found").into_iter().collect();
    let wl = act.get("whitelisted").cloned().unwrap_or_default();
    let defanged: BTreeSet<String> = str_list(act, "defanged").into_iter().collect();
    let exp_found = str_list(exp, "found");
    for f in &exp_found {
        if !found.contains(f) {
            let why = wl.get(f).map_or("missing".to_owned(), |r| format!("whitelisted {r}"));
            errs.push(format!("expected {f}: {why}"));
        }
    }
    if exp.get("only").and_then(Value::as_bool) == Some(true) {
        let e: BTreeSet<&String> = exp_found.iter().collect();
        for f in &found {
            if !e.contains(f) {
                errs.push(format!("unexpected {f}"));
            }
        }
    }
    for a in str_list(exp, "absent") {
        if found.contains(&a) || wl.get(&a).is_some() {
            errs.push(format!("must not find {a}"));
        }
    }
    if let Some(m) = exp.get("whitelisted").and_then(Value::as_object) {
        for (k, reason) in m {
            if wl.get(k) != Some(reason) {
                errs.push(format!("expected {k} whitelisted {reason}, got {:?}", wl.get(k)));
            }
        }
    }
    for d in str_list(exp, "defanged") {
        if !defanged.contains(&d) {
            errs.push(format!("expected {d} marked defanged"));
        }
    }
    if let Some(m) = exp.get("attrs").and_then(Value::as_object) {
        for (k, v) in m {
            let got = act.pointer(&format!("/attrs/{k}"));
            if got != Some(v) {
                errs.push(format!("attr {k}: expected {v}, got {got:?}"));
            }
        }
    }
    let atts = str_list(act, "attachments");
    for a in str_list(exp, "attachments") {
        if !atts.iter().any(|x| *x == a || x.starts_with(&format!("{a}|"))) {
            errs.push(format!("attachment {a} not found"));
        }
    }
    if let Some(r) = exp.get("roles")
        && act.get("roles") != Some(r)
    {
        errs.push(format!("roles: expected {r}, got {:?}", act.get("roles")));
    }
    let warns = str_list(act, "warnings");
    for w in str_list(exp, "warnings") {
        if !warns.contains(&w) {
            errs.push(format!("warning {w} missing"));
        }
    }
    // Every span points at real text.
    for o in &x.observables {
        for p in &o.provenance {
            if x.excerpt(p).is_none_or(str::is_empty) {
                errs.push(format!("{}: empty or bad span {p:?}", key(o)));
            }
        }
    }
    errs
}

#[test]
fn extract_golden_fixtures() -> Result<(), String> {
    let dir = fixtures();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml" || e == "msg" || e == "mbox" || e == "txt"))
        .collect();
    inputs.sort();
    let mut failures = Vec::new();
    let mut checked = 0;
    for input in &inputs {
        let exp_path = input.with_extension("expected.json");
        let act_path = input.with_extension("actual.json");
        let name = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let raw = std::fs::read(input).map_err(|e| format!("{name}: {e}"))?;
        let exp: Value = match std::fs::read_to_string(&exp_path) {
            Ok(s) => serde_json::from_str(&s).map_err(|e| format!("{name}: expected.json: {e}"))?,
            Err(_) => {
                failures.push(format!("{name}: no expected.json"));
                json!({})
            }
        };
        let x = extract::extract(&raw, &options(&exp));
        let act = compact(&x);
        let errs = compare(&exp, &act, &x);
        checked += 1;
        // `HARPOON_GOLDEN_DUMP=1` writes every actual, for review.
        let dump = std::env::var_os("HARPOON_GOLDEN_DUMP").is_some();
        if errs.is_empty() && !dump {
            let _ = std::fs::remove_file(&act_path);
        } else {
            let pretty = serde_json::to_string_pretty(&act).unwrap_or_default();
            let _ = std::fs::write(&act_path, pretty + "\n");
        }
        if !errs.is_empty() {
            failures.push(format!("{name}:\n    {}", errs.join("\n    ")));
        }
    }
    eprintln!("{checked} golden fixtures checked");
    assert!(checked >= 60, "only {checked} golden fixtures");
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} golden mismatches (see *.actual.json):\n{}", failures.len(), failures.join("\n")))
    }
}

/// Outlook fixtures are written by code (no Outlook here): a minimal MS-OXMSG writer over the
/// `cfb` crate. Regenerate with
/// `cargo test --test api extract_golden_write_msg_fixtures -- --ignored`; the output is
/// deterministic, so the committed files only change when this code does.
mod msg_writer {
    use std::io::{Cursor, Write};

    #[derive(Default)]
    pub struct Obj {
        /// Unicode strings (type 001F).
        pub strings: Vec<(u16, String)>,
        /// 8-bit strings already encoded in the message code page (type 001E).
        pub strings8: Vec<(u16, Vec<u8>)>,
        pub binaries: Vec<(u16, Vec<u8>)>,
        pub ints: Vec<(u16, u32)>,
        pub recipients: Vec<Obj>,
        pub attachments: Vec<Obj>,
        /// For an attachment: an embedded message (`__substg1.0_3701000D`).
        pub embedded: Option<Box<Obj>>,
    }

    type Cf = cfb::CompoundFile<Cursor<Vec<u8>>>;

    fn stream(cf: &mut Cf, path: &str, data: &[u8]) -> std::io::Result<()> {
        let mut s = cf.create_stream(path)?;
        s.write_all(data)
    }

    fn write_obj(cf: &mut Cf, dir: &str, o: &Obj, header: usize) -> std::io::Result<()> {
        for (id, s) in &o.strings {
            let b: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            stream(cf, &format!("{dir}/__substg1.0_{id:04X}001F"), &b)?;
        }
        for (id, b) in &o.strings8 {
            stream(cf, &format!("{dir}/__substg1.0_{id:04X}001E"), b)?;
        }
        for (id, b) in &o.binaries {
            stream(cf, &format!("{dir}/__substg1.0_{id:04X}0102"), b)?;
        }
        let mut props = vec![0u8; header];
        if header >= 24 {
            // next recipient id, next attachment id, recipient count, attachment count
            let counts = [o.recipients.len() as u32, o.attachments.len() as u32];
            for (i, c) in [counts[0], counts[1], counts[0], counts[1]].iter().enumerate() {
                props.splice(8 + i * 4..12 + i * 4, c.to_le_bytes());
            }
        }
        for (id, v) in &o.ints {
            let tag = (u32::from(*id) << 16) | 0x0003;
            props.extend_from_slice(&tag.to_le_bytes());
            props.extend_from_slice(&6u32.to_le_bytes());
            props.extend_from_slice(&v.to_le_bytes());
            props.extend_from_slice(&[0; 4]);
        }
        stream(cf, &format!("{dir}/__properties_version1.0"), &props)?;
        for (i, r) in o.recipients.iter().enumerate() {
            let d = format!("{dir}/__recip_version1.0_#{i:08X}");
            cf.create_storage(&d)?;
            write_obj(cf, &d, r, 8)?;
        }
        for (i, a) in o.attachments.iter().enumerate() {
            let d = format!("{dir}/__attach_version1.0_#{i:08X}");
            cf.create_storage(&d)?;
            write_obj(cf, &d, a, 8)?;
            if let Some(e) = &a.embedded {
                let ed = format!("{d}/__substg1.0_3701000D");
                cf.create_storage(&ed)?;
                write_obj(cf, &ed, e, 24)?;
            }
        }
        Ok(())
    }

    pub fn write(o: &Obj) -> std::io::Result<Vec<u8>> {
        let mut cf = cfb::CompoundFile::create(Cursor::new(Vec::new()))?;
        write_obj(&mut cf, "", o, 32)?;
        // Fixed timestamps so the bytes are reproducible.
        let paths: Vec<std::path::PathBuf> =
            cf.walk().filter(|e| !e.is_stream()).map(|e| e.path().to_path_buf()).collect();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_709_542_800);
        for p in paths {
            cf.set_created_time(&p, t)?;
            cf.set_modified_time(&p, t)?;
        }
        cf.flush()?;
        Ok(cf.into_inner().into_inner())
    }

    /// LZFu "compression" with literals only (valid MS-OXRTFCP: every control bit 0, then the
    /// end-of-stream reference at the dictionary write position).
    pub fn lzfu(rtf: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut wpos: usize = 207;
        let mut chunks = rtf.chunks(8).peekable();
        loop {
            let chunk = chunks.next().unwrap_or(&[]);
            if chunk.len() == 8 {
                body.push(0u8);
                body.extend_from_slice(chunk);
                wpos = (wpos + 8) % 4096;
                if chunks.peek().is_some() {
                    continue;
                }
                body.push(1u8);
                body.extend_from_slice(&((wpos as u16) << 4).to_be_bytes());
                break;
            }
            body.push(1u8 << chunk.len());
            body.extend_from_slice(chunk);
            wpos = (wpos + chunk.len()) % 4096;
            body.extend_from_slice(&((wpos as u16) << 4).to_be_bytes());
            break;
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((body.len() + 12) as u32).to_le_bytes());
        out.extend_from_slice(&(rtf.len() as u32).to_le_bytes());
        out.extend_from_slice(b"LZFu");
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&body);
        out
    }
}

/// One generated `.msg` fixture: its name, bytes and expectations.
type MsgFixture = (&'static str, Vec<u8>, Value);

fn io(e: std::io::Error) -> String {
    e.to_string()
}

fn rcpt(name: &str, addr: &str, kind: u32) -> msg_writer::Obj {
    msg_writer::Obj {
        strings: vec![(0x3001, name.into()), (0x39FE, addr.into())],
        ints: vec![(0x0C15, kind)],
        ..msg_writer::Obj::default()
    }
}

#[test]
#[ignore = "regenerates the committed .msg fixtures"]
fn extract_golden_write_msg_fixtures() -> Result<(), String> {
    let dir = fixtures();
    let mut fixtures = plain_and_html_msgs()?;
    // The plain message cut short.
    let damaged: Vec<u8> = fixtures[0].1.iter().take(1536).copied().collect();
    fixtures.extend(rtf_and_code_page_msgs()?);
    fixtures.extend(forward_and_attachment_msgs()?);
    fixtures.push((
        "msg_damaged_truncated",
        damaged,
        json!({
            "warnings": ["malformed"],
        }),
    ));
    for (name, bytes, exp) in fixtures {
        std::fs::write(dir.join(format!("{name}.msg")), bytes).map_err(io)?;
        let text = serde_json::to_string_pretty(&exp).map_err(|e| e.to_string())? + "\n";
        std::fs::write(dir.join(format!("{name}.expected.json")), text).map_err(io)?;
    }
    Ok(())
}

/// A plain-text message with headers and recipients, and an HTML-only one.
fn plain_and_html_msgs() -> Result<Vec<MsgFixture>, String> {
    use msg_writer::{Obj, write};
    let e = io;
    let headers = "Received: from mail.invoice-desk.top (mail.invoice-desk.top [45.137.21.77])\r\n\tby mx1.harpoon-corp.com with ESMTPS id 1A2B3C; Mon, 4 Mar 2024 09:00:00 +0000\r\nFrom: Invoice Desk <billing@invoice-desk.top>\r\nTo: bob@harpoon-corp.com\r\nSubject: Invoice 7781\r\nMessage-ID: <inv-7781@invoice-desk.top>\r\nDate: Mon, 4 Mar 2024 09:00:00 +0000\r\n";
    let mut fixtures: Vec<MsgFixture> = Vec::new();
    let plain = Obj {
        strings: vec![
            (0x0037, "Invoice 7781".into()),
            (0x0C1A, "Invoice Desk".into()),
            (0x5D01, "billing@invoice-desk.top".into()),
            (0x007D, headers.into()),
            (0x1000, "Pay at https://invoice-desk.top/pay/7781 or call.\r\n".into()),
        ],
        recipients: vec![rcpt("Bob", "bob@harpoon-corp.com", 1), rcpt("Ann", "ann@harpoon-corp.com", 2)],
        ..Obj::default()
    };
    fixtures.push(("msg_plain", write(&plain).map_err(e)?, json!({
        "found": ["url:https://invoice-desk.top/pay/7781", "email:billing@invoice-desk.top", "ipv4:45.137.21.77", "domain:mail.invoice-desk.top"],
        "attrs": {"subject": "Invoice 7781", "from": "billing@invoice-desk.top", "to": "bob@harpoon-corp.com", "message_id": "inv-7781@invoice-desk.top", "hops": "1"},
        "roles": ["single"],
        "options": {"own_domains": ["harpoon-corp.com"]},
    })));

    let html = Obj {
        strings: vec![(0x0037, "Shared document".into()), (0x5D01, "share@docs-share.top".into())],
        binaries: vec![(
            0x1013,
            br#"<html><body><a href="https://docs-share.top/view?id=1&amp;u=2">Open</a></body></html>"#
                .to_vec(),
        )],
        ..Obj::default()
    };
    fixtures.push((
        "msg_html",
        write(&html).map_err(e)?,
        json!({
            "found": ["url:https://docs-share.top/view?id=1&u=2", "email:share@docs-share.top"],
            "attrs": {"subject": "Shared document", "from": "share@docs-share.top"},
        }),
    ));
    Ok(fixtures)
}

/// RTF bodies (HTML encapsulated, plain in cp1251) and 8-bit strings in code pages.
fn rtf_and_code_page_msgs() -> Result<Vec<MsgFixture>, String> {
    use msg_writer::{Obj, lzfu, write};
    let e = io;
    let mut fixtures: Vec<MsgFixture> = Vec::new();
    let rtf = br#"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}{\*\htmltag19 <html>}{\*\htmltag64 <a href="https://rtf-only-phish.top/login">}\htmlrtf {\htmlrtf0 Sign in\htmlrtf }\htmlrtf0 {\*\htmltag72 </a>}\par visit rtf-text-domain.top {\*\htmltag27 </html>}}"#;
    let rtf_only = Obj {
        strings: vec![(0x0037, "RTF only".into())],
        binaries: vec![(0x1009, lzfu(rtf))],
        ..Obj::default()
    };
    fixtures.push((
        "msg_rtf_html",
        write(&rtf_only).map_err(e)?,
        json!({
            "found": ["url:https://rtf-only-phish.top/login", "domain:rtf-text-domain.top"],
            "absent": ["domain:arial"],
            "attrs": {"subject": "RTF only"},
        }),
    ));

    let plain_rtf = br#"{\rtf1\ansi\ansicpg1251\deff0{\fonttbl{\f0 Times;}}\f0 \'cf\'f0\'e8\'e2\'e5\'f2 https://rtf-plain.ru/x\par}"#;
    let rtf_plain = Obj {
        strings: vec![(0x0037, "RTF plain".into())],
        binaries: vec![(0x1009, lzfu(plain_rtf))],
        ..Obj::default()
    };
    fixtures.push((
        "msg_rtf_plain_cp1251",
        write(&rtf_plain).map_err(e)?,
        json!({
            "found": ["url:https://rtf-plain.ru/x"],
        }),
    ));

    let (subj, _, _) = encoding_rs::WINDOWS_1251.encode("Срочно: проверка счёта");
    let (body, _, _) = encoding_rs::WINDOWS_1251.encode("Подтвердите: https://bank-check.ru/confirm\r\n");
    let cp1251 = Obj {
        strings8: vec![
            (0x0037, subj.into_owned()),
            (0x1000, body.into_owned()),
            (0x0C1F, b"robot@bank-check.ru".to_vec()),
        ],
        ints: vec![(0x3FFD, 1251)],
        ..Obj::default()
    };
    fixtures.push((
        "msg_cp1251",
        write(&cp1251).map_err(e)?,
        json!({
            "found": ["url:https://bank-check.ru/confirm", "email:robot@bank-check.ru"],
            "attrs": {"subject": "Срочно: проверка счёта"},
        }),
    ));

    let (subj, _, _) = encoding_rs::SHIFT_JIS.encode("お支払い確認");
    let cp932 = Obj {
        strings8: vec![(0x0037, subj.into_owned()), (0x1000, b"https://jp-shop-check.top/a\r\n".to_vec())],
        ints: vec![(0x3FF1, 1041)],
        ..Obj::default()
    };
    fixtures.push((
        "msg_cp932_locale",
        write(&cp932).map_err(e)?,
        json!({
            "found": ["url:https://jp-shop-check.top/a"],
            "attrs": {"subject": "お支払い確認"},
        }),
    ));
    Ok(fixtures)
}

/// A forward with the phish embedded as a message, and a zip attachment.
fn forward_and_attachment_msgs() -> Result<Vec<MsgFixture>, String> {
    use msg_writer::{Obj, write};
    use std::io::{Cursor, Write};
    let e = io;
    let mut fixtures: Vec<MsgFixture> = Vec::new();
    let phish = Obj {
        strings: vec![
            (0x0037, "Your parcel".into()),
            (0x0C1A, "Parcel Service".into()),
            (0x5D01, "track@parcel-fee.top".into()),
            (0x1000, "Pay the fee: https://parcel-fee.top/pay\r\n".into()),
        ],
        ..Obj::default()
    };
    let envelope = Obj {
        strings: vec![
            (0x0037, "FW: Your parcel".into()),
            (0x0C1A, "Bob".into()),
            (0x5D01, "bob@harpoon-corp.com".into()),
            (0x1000, "Suspicious, see attached.\r\n".into()),
        ],
        recipients: vec![rcpt("Phishing", "phishing@harpoon-corp.com", 1)],
        attachments: vec![Obj {
            strings: vec![(0x3001, "Your parcel".into())],
            ints: vec![(0x3705, 5)],
            embedded: Some(Box::new(phish)),
            ..Obj::default()
        }],
        ..Obj::default()
    };
    fixtures.push(("msg_embedded_forward", write(&envelope).map_err(e)?, json!({
        "found": ["url:https://parcel-fee.top/pay", "email:track@parcel-fee.top"],
        "whitelisted": {"email:bob@harpoon-corp.com": "own_domain"},
        "roles": ["reporter_envelope", "reported"],
        "attrs": {"subject": "Your parcel", "from": "track@parcel-fee.top", "envelope_from": "bob@harpoon-corp.com"},
        "options": {"own_domains": ["harpoon-corp.com"]},
    })));

    let zip = {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default().last_modified_time(zip::DateTime::default());
            w.start_file("scan.exe", opts).map_err(|e| e.to_string())?;
            w.write_all(b"MZ fake").map_err(e)?;
            w.finish().map_err(|e| e.to_string())?;
        }
        buf.into_inner()
    };
    let with_zip = Obj {
        strings: vec![(0x0037, "Scan".into()), (0x1000, "See scan.zip\r\n".into())],
        attachments: vec![Obj {
            strings: vec![(0x3707, "scan.zip".into()), (0x370E, "application/zip".into())],
            binaries: vec![(0x3701, zip)],
            ints: vec![(0x3705, 1)],
            ..Obj::default()
        }],
        ..Obj::default()
    };
    fixtures.push((
        "msg_zip_attachment",
        write(&with_zip).map_err(e)?,
        json!({
            "attachments": ["scan.zip", "member:scan.exe"],
            "absent": ["domain:scan.zip"],
        }),
    ));
    Ok(fixtures)
}
