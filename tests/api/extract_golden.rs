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
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn options(exp: &Value) -> ExtractOptions {
    let mut o = ExtractOptions::default();
    let strs = |k: &str| -> Vec<String> {
        exp.pointer(&format!("/options/{k}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    o.own_domains = strs("own_domains");
    o.own_mail_hosts = strs("own_mail_hosts");
    let num = |k: &str| {
        exp.pointer(&format!("/options/{k}"))
            .and_then(Value::as_u64)
    };
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
    o
}

/// The compact form of an extraction (also what `NAME.actual.json` holds).
fn compact(x: &Extraction) -> Value {
    let found: BTreeSet<String> = x.proposed().map(key).collect();
    let whitelisted: BTreeMap<String, String> = x
        .observables
        .iter()
        .filter_map(|o| o.whitelisted.map(|w| (key(o), enum_str(&w))))
        .collect();
    let defanged: BTreeSet<String> = x
        .observables
        .iter()
        .filter(|o| o.defanged)
        .map(key)
        .collect();
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
        put(
            "reply_to",
            m.reply_to.first().and_then(|b| b.address.clone()),
        );
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
        put(
            "hop0_ip",
            m.received.first().and_then(|h| h.from_ip.clone()),
        );
    }
    let envelope = x
        .messages
        .iter()
        .find(|m| m.role == MessageRole::ReporterEnvelope);
    if let Some(a) = envelope
        .and_then(|e| e.from.first())
        .and_then(|b| b.address.clone())
    {
        attrs.insert("envelope_from".into(), a);
    }
    let mut attachments = Vec::new();
    for a in &x.attachments {
        let name = a.name.clone().unwrap_or_default();
        attachments.push(format!("{name}|{}", a.hashes.sha256));
        for m in &a.members {
            let h = m
                .hashes
                .as_ref()
                .map_or("-".to_owned(), |h| h.sha256.clone());
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
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
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
            let why = wl
                .get(f)
                .map_or("missing".to_owned(), |r| format!("whitelisted {r}"));
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
                errs.push(format!(
                    "expected {k} whitelisted {reason}, got {:?}",
                    wl.get(k)
                ));
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
        if !atts
            .iter()
            .any(|x| *x == a || x.starts_with(&format!("{a}|")))
        {
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
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "eml" || e == "msg" || e == "mbox" || e == "txt")
        })
        .collect();
    inputs.sort();
    let mut failures = Vec::new();
    let mut checked = 0;
    for input in &inputs {
        let exp_path = input.with_extension("expected.json");
        let act_path = input.with_extension("actual.json");
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
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
        Err(format!(
            "{} golden mismatches (see *.actual.json):\n{}",
            failures.len(),
            failures.join("\n")
        ))
    }
}
