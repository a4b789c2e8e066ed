//! Campaigns (issue 20): drafts grouped by the infrastructure and kit they share, computed at
//! import and kept explainable.
//!
//! A draft's keys come from the reported message only (never the reporter's envelope):
//! - `domain`: registered domains (public-suffix aware, `extract::value`) of its URLs, domains
//!   and sender addresses (From, Reply-To, Return-Path);
//! - `ip`: its public IP addresses;
//! - `path`: the shapes of its URL paths (`extract::similarity::path_shape`);
//! - `html`: the four bands of the SimHash of its HTML (or text) body; a band shared is only a
//!   candidate, linked when the two hashes are within `similarity::NEAR_BITS` bits.
//!
//! Keys that would glue unrelated mail are never stored: values the extraction or a whitelist
//! rule whitelists, the recipients' own domains, and [`BENIGN_INFRASTRUCTURE`] (mail providers
//! and the large platforms every newsletter and every phish links to), so Office 365 or Gmail
//! mail does not become one campaign. A new draft that shares a key with others joins their
//! campaign; if they were in several, those merge into the oldest (the others keep their row,
//! pointing at it). Each member keeps why it joined (`linked_by`), and a campaign's page lists
//! every key at least two of its members share.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ServiceError;
use super::imports::{self, EventMeta};
use super::indicators::{Patch, Status};
use super::whitelist::Whitelist;
use crate::db::audit::{self, AuditEntry};
pub use crate::db::campaigns::CampaignSummary;
use crate::db::campaigns::{self as store, CampaignRow, KeyRow, MemberRow};
use crate::db::imports::ImportRow;
use crate::db::{DbConn, now_micros};
use crate::extract::similarity::{self, NEAR_BITS};
use crate::extract::{Extraction, IpScope, Location, MessageRole, ObservableKind};
use crate::service::ServiceContext;

/// Registered domains of mail providers and of platforms shared by benign and hostile mail
/// alike: never a campaign key (a phish on one of them is linked by its other keys or its HTML).
pub const BENIGN_INFRASTRUCTURE: &[&str] = &[
    // mail providers
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "office365.com",
    "office.com",
    "microsoft.com",
    "microsoftonline.com",
    "outlook.office.com",
    "gmail.com",
    "googlemail.com",
    "google.com",
    "yahoo.com",
    "yahoo.co.jp",
    "ymail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "apple.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "proton.me",
    "protonmail.com",
    "zoho.com",
    "mail.com",
    "comcast.net",
    "att.net",
    "verizon.net",
    "orange.fr",
    "free.fr",
    "t-online.de",
    "libero.it",
    "qq.com",
    "163.com",
    "126.com",
    "naver.com",
    // mail infrastructure and link rewriters
    "protection.outlook.com",
    "mimecast.com",
    "mimecastprotect.com",
    "proofpoint.com",
    "pphosted.com",
    "messagelabs.com",
    "barracudanetworks.com",
    "sophos.com",
    "safelinks.com",
    "amazonses.com",
    "sendgrid.net",
    "sendgrid.com",
    "mailchimp.com",
    "mcsv.net",
    "list-manage.com",
    "mailgun.org",
    "mailgun.net",
    "sparkpostmail.com",
    "mandrillapp.com",
    "rsgsv.net",
    "constantcontact.com",
    "exacttarget.com",
    "salesforce.com",
    "hubspot.com",
    "hubspotemail.net",
    "mktomail.com",
    "marketo.com",
    "cmail19.com",
    "cmail20.com",
    "createsend.com",
    "postmarkapp.com",
    "sendinblue.com",
    "brevo.com",
    "klaviyo.com",
    "mailjet.com",
    // platforms and standards hosts every kind of mail links to
    "w3.org",
    "schemas.microsoft.com",
    "xmlsoap.org",
    "openxmlformats.org",
    "facebook.com",
    "twitter.com",
    "x.com",
    "linkedin.com",
    "instagram.com",
    "youtube.com",
    "pinterest.com",
    "tiktok.com",
    "whatsapp.com",
    "googleapis.com",
    "gstatic.com",
    "googleusercontent.com",
    "doubleclick.net",
    "google-analytics.com",
    "googletagmanager.com",
    "akamaihd.net",
    "akamai.net",
    "cloudfront.net",
    "cloudflare.com",
    "amazonaws.com",
    "windows.net",
    "azureedge.net",
    "sharepoint.com",
    "onedrive.live.com",
    "1drv.ms",
    "dropbox.com",
    "wetransfer.com",
    "box.com",
    "docusign.net",
    "docusign.com",
    "adobe.com",
    "github.com",
    "wikipedia.org",
    "bit.ly",
    "t.co",
    "goo.gl",
    "tinyurl.com",
    "ow.ly",
    "gravatar.com",
    "wordpress.com",
    "wp.com",
    "paypal.com",
    "amazon.com",
    "ebay.com",
    "spamassassin.org",
    "sourceforge.net",
    "example.com",
    "example.org",
    "example.net",
];

fn benign(registered: &str) -> bool {
    BENIGN_INFRASTRUCTURE.contains(&registered)
        || BENIGN_INFRASTRUCTURE.iter().any(|b| registered.strip_suffix(b).is_some_and(|r| r.ends_with('.')))
}

/// One key that linked two drafts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Link {
    pub kind: String,
    /// The shared value; for `html`, the distance in bits between the two bodies.
    pub value: String,
    /// The draft it was shared with.
    pub with: i64,
}

/// The keys of one draft.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftKeys {
    /// (kind, value), sorted, without duplicates; `html` bands included.
    pub keys: Vec<(String, String)>,
    pub simhash: Option<u64>,
}

/// Cap on the keys of one draft: a mail with thousands of links is linked by its first ones.
const MAX_KEYS: usize = 200;
/// Cap on the drafts one lookup returns per key kind: enough to find the campaigns.
const MAX_SHARING: i64 = 500;
/// Cap on the reasons kept per member.
const MAX_REASONS: usize = 20;

fn registered_domain(host: &str) -> Option<String> {
    crate::extract::IndicatorValue::parse(ObservableKind::Domain, host).ok().and_then(|v| v.registered_domain)
}

/// The campaign keys of an extraction (pure but for the whitelist it is given).
pub fn keys_of(x: &Extraction, rules: &Whitelist) -> DraftKeys {
    let Some(reported) = x.reported() else { return DraftKeys::default() };
    let mut keys: BTreeSet<(String, String)> = BTreeSet::new();
    // The recipients' own domains: every report of the same organisation shares them.
    let own: BTreeSet<String> = reported
        .to
        .iter()
        .chain(&reported.cc)
        .filter_map(|m| m.address.as_deref())
        .filter_map(|a| a.rsplit_once('@'))
        .filter_map(|(_, d)| registered_domain(d))
        .collect();
    let domain = |keys: &mut BTreeSet<(String, String)>, reg: Option<&str>| {
        if let Some(r) = reg
            && !benign(r)
            && !own.contains(r)
            && rules.matches(ObservableKind::Domain, r).is_none()
        {
            keys.insert(("domain".into(), r.to_string()));
        }
    };
    for o in &x.observables {
        if o.whitelisted.is_some() || o.role == MessageRole::ReporterEnvelope {
            continue;
        }
        let v = &o.indicator;
        if rules.matches(v.kind, &v.value).is_some() {
            continue;
        }
        match v.kind {
            ObservableKind::Url => {
                let reg = v.registered_domain.as_deref();
                if reg.is_some_and(|r| benign(r) || own.contains(r)) {
                    continue;
                }
                domain(&mut keys, reg);
                if let Some(shape) = similarity::path_shape(&v.value) {
                    keys.insert(("path".into(), shape));
                }
                if v.ip_scope == Some(IpScope::Public)
                    && let Some(host) = crate::extract::bundle::url_host(&v.value)
                {
                    keys.insert(("ip".into(), host));
                }
            }
            ObservableKind::Domain => domain(&mut keys, v.registered_domain.as_deref()),
            ObservableKind::Ipv4 | ObservableKind::Ipv6 if v.ip_scope == Some(IpScope::Public) => {
                keys.insert(("ip".into(), v.value.clone()));
            }
            _ => {}
        }
    }
    let senders = reported
        .from
        .iter()
        .chain(&reported.reply_to)
        .filter_map(|m| m.address.clone())
        .chain(reported.return_path.clone());
    for a in senders {
        if rules.matches(ObservableKind::Email, &a.to_lowercase()).is_some() {
            continue;
        }
        let reg = a.trim_matches(['<', '>']).rsplit_once('@').and_then(|(_, d)| registered_domain(d));
        domain(&mut keys, reg.as_deref());
    }
    let mut keys: Vec<(String, String)> = keys.into_iter().take(MAX_KEYS).collect();
    let simhash = body_of(x, reported.index).and_then(similarity::simhash);
    if let Some(h) = simhash {
        keys.extend(similarity::bands(h).into_iter().map(|b| ("html".to_string(), b)));
    }
    DraftKeys { keys, simhash }
}

/// The reported message's HTML body, or its plain text when it has none.
fn body_of(x: &Extraction, message: usize) -> Option<&str> {
    let bodies = || {
        x.texts.iter().filter(move |t| t.message == message).filter_map(|t| match &t.location {
            Location::Body { content_type, .. } => Some((content_type.as_str(), t.text.as_str())),
            _ => None,
        })
    };
    bodies()
        .find(|(ct, _)| ct.contains("html"))
        .or_else(|| bodies().find(|(ct, _)| ct.contains("plain")))
        .map(|(_, text)| text)
}

/// u64 ↔ the signed column.
fn to_column(h: u64) -> i64 {
    i64::from_ne_bytes(h.to_ne_bytes())
}

fn from_column(h: i64) -> u64 {
    u64::from_ne_bytes(h.to_ne_bytes())
}

/// Stores a new draft's keys and puts it into the campaign of the drafts it shares keys with
/// (joining, creating or merging campaigns). Runs inside the import's write transaction, so
/// the draft and its grouping commit together. Returns the campaign, if any.
pub fn on_import(
    conn: &mut DbConn,
    import_id: i64,
    x: &Extraction,
    rules: &Whitelist,
) -> Result<Option<i64>, ServiceError> {
    let keys = keys_of(x, rules);
    assign(conn, import_id, &keys, now_micros())
}

/// [`on_import`] with the keys computed.
pub fn assign(
    conn: &mut DbConn,
    import_id: i64,
    keys: &DraftKeys,
    now: i64,
) -> Result<Option<i64>, ServiceError> {
    store::lock(conn)?;
    store::add_draft(conn, import_id, keys.simhash.map(to_column), &keys.keys, now)?;
    if keys.keys.is_empty() {
        return Ok(None);
    }
    let shared = store::sharing(conn, import_id, &keys.keys, MAX_SHARING)?;
    if shared.is_empty() {
        return Ok(None);
    }
    let ids: Vec<i64> = shared.iter().map(|k| k.import_id).collect::<BTreeSet<_>>().into_iter().collect();
    let members: BTreeMap<i64, MemberRow> =
        store::members_of_drafts(conn, &ids)?.into_iter().map(|m| (m.import_id, m)).collect();
    // Which drafts are linked, by what (an HTML band only when the bodies are near).
    let mut links: BTreeMap<i64, BTreeSet<(String, String)>> = BTreeMap::new();
    for k in &shared {
        let value = if k.kind == "html" {
            let near = keys.simhash.zip(members.get(&k.import_id).and_then(|m| m.simhash));
            match near.map(|(a, b)| similarity::distance(a, from_column(b))) {
                Some(d) if d <= NEAR_BITS => format!("near-duplicate body ({d} bits apart)"),
                _ => continue,
            }
        } else {
            k.value.clone()
        };
        links.entry(k.import_id).or_default().insert((k.kind.clone(), value));
    }
    if links.is_empty() {
        return Ok(None);
    }
    let mut campaigns: Vec<i64> =
        links.keys().filter_map(|id| members.get(id).and_then(|m| m.campaign_id)).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    // Follow merges (a member row always names a live campaign, but be sure).
    let mut live = Vec::new();
    for c in campaigns {
        live.push(resolve(conn, c)?);
    }
    live.sort_unstable();
    live.dedup();
    let first_seen = links.keys().filter_map(|id| members.get(id)).map(|m| m.added_at).min().unwrap_or(now);
    let target = match live.first() {
        Some(&t) => t,
        None => store::create(conn, &title_of(links.values().flatten()), first_seen, now, now)?,
    };
    for &other in live.iter().skip(1) {
        store::merge(conn, other, target, now)?;
    }
    let mine: Vec<Link> = links
        .iter()
        .flat_map(|(with, ks)| {
            ks.iter().map(|(kind, value)| Link { kind: kind.clone(), value: value.clone(), with: *with })
        })
        .take(MAX_REASONS)
        .collect();
    store::join(conn, import_id, target, &serde_json::to_string(&mine).unwrap_or_else(|_| "[]".into()))?;
    for (with, ks) in &links {
        if members.get(with).is_some_and(|m| m.campaign_id.is_none()) {
            let theirs: Vec<Link> = ks
                .iter()
                .map(|(kind, value)| Link { kind: kind.clone(), value: value.clone(), with: import_id })
                .take(MAX_REASONS)
                .collect();
            store::join(
                conn,
                *with,
                target,
                &serde_json::to_string(&theirs).unwrap_or_else(|_| "[]".into()),
            )?;
        }
    }
    store::seen(conn, target, first_seen, now, now)?;
    Ok(Some(target))
}

/// The campaign a (possibly merged) campaign id stands for now.
fn resolve(conn: &mut DbConn, mut id: i64) -> Result<i64, ServiceError> {
    for _ in 0..16 {
        match store::get(conn, id)?.and_then(|c| c.merged_into) {
            Some(next) => id = next,
            None => return Ok(id),
        }
    }
    Ok(id)
}

/// A campaign's title: its most telling key (a domain, then a path shape, an IP, the body).
fn title_of<'a>(keys: impl Iterator<Item = &'a (String, String)>) -> String {
    let keys: Vec<&(String, String)> = keys.collect();
    for kind in ["domain", "path", "ip"] {
        if let Some((_, v)) = keys.iter().find(|(k, _)| k == kind) {
            return v.chars().take(200).collect();
        }
    }
    "near-duplicate bodies".into()
}

/// A campaign with its members and the keys that link them.
#[derive(Debug, Clone)]
pub struct CampaignView {
    pub row: CampaignRow,
    pub members: Vec<Member>,
    /// Keys at least two members share: (kind, value, the drafts holding it).
    pub shared: Vec<(String, String, Vec<i64>)>,
    /// Events the members were committed into.
    pub events: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub import: ImportRow,
    pub added_at: i64,
    pub linked_by: Vec<Link>,
}

/// One campaign (a merged one answers with the campaign it went into).
pub fn get(conn: &mut DbConn, id: i64) -> Result<CampaignView, ServiceError> {
    let id = resolve(conn, id)?;
    let row = store::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("campaign {id}")))?;
    let members: Vec<Member> = store::members(conn, id)?
        .into_iter()
        .map(|(m, import)| {
            Ok(Member {
                import,
                added_at: m.added_at,
                linked_by: crate::db::types::json_column("campaign_drafts.linked_by", &m.linked_by)?,
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    let ids: Vec<i64> = members.iter().map(|m| m.import.id).collect();
    let mut by_key: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for KeyRow { kind, value, import_id } in store::keys_of(conn, &ids)? {
        if kind != "html" {
            by_key.entry((kind, value)).or_default().push(import_id);
        }
    }
    let mut shared: Vec<(String, String, Vec<i64>)> = by_key
        .into_iter()
        .filter(|(_, ids)| ids.len() >= 2)
        .map(|((k, v), mut ids)| {
            ids.sort_unstable();
            (k, v, ids)
        })
        .collect();
    // Near-duplicate bodies are explained pairwise, from the members' own reasons.
    let mut near: BTreeSet<i64> = BTreeSet::new();
    for m in &members {
        if m.linked_by.iter().any(|l| l.kind == "html") {
            near.insert(m.import.id);
            near.extend(m.linked_by.iter().filter(|l| l.kind == "html").map(|l| l.with));
        }
    }
    if near.len() >= 2 {
        shared.push(("html".into(), "near-duplicate bodies".into(), near.into_iter().collect()));
    }
    shared.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    let mut events: Vec<i64> = members.iter().filter_map(|m| m.import.event_id).collect();
    events.sort_unstable();
    events.dedup();
    Ok(CampaignView { row, members, shared, events })
}

/// Campaigns of at least `min_size` drafts, most recently seen first.
pub fn list(
    conn: &mut DbConn,
    min_size: i64,
    before: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<CampaignSummary>, ServiceError> {
    Ok(store::list(conn, min_size.max(1), before, limit.clamp(1, 500))?)
}

/// What a bulk action did, per draft or indicator.
#[derive(Debug, Clone, Default)]
pub struct BulkOutcome {
    pub event_id: Option<i64>,
    pub done: Vec<i64>,
    pub failed: Vec<(i64, String)>,
}

fn audit_bulk(
    conn: &mut DbConn,
    action: &str,
    campaign: i64,
    actor: &str,
    out: &BulkOutcome,
) -> Result<(), ServiceError> {
    let detail = serde_json::json!({
        "event_id": out.event_id,
        "done": out.done,
        "failed": out.failed.iter().map(|(id, why)| serde_json::json!({"id": id, "error": why})).collect::<Vec<_>>(),
    });
    audit::insert(
        conn,
        &AuditEntry::new(action)
            .actor(actor)
            .target(format!("campaign {campaign}"))
            .detail(detail.to_string()),
    )?;
    Ok(())
}

fn open_drafts(conn: &mut DbConn, id: i64) -> Result<(i64, Vec<i64>), ServiceError> {
    let view = get(conn, id)?;
    Ok((
        view.row.id,
        view.members
            .iter()
            .filter(|m| m.import.state == super::imports::ImportState::Draft)
            .map(|m| m.import.id)
            .collect(),
    ))
}

/// Commits every open draft of a campaign into one event: the first draft's commit makes (or
/// finds) the event, the others join it. Each draft commits in its own transaction; one that
/// fails (committed meanwhile) is reported and the others go on. Audited.
pub fn commit_all(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    id: i64,
    actor: &str,
    meta: EventMeta,
) -> Result<BulkOutcome, ServiceError> {
    let meta = meta.validated()?;
    let (id, drafts) = open_drafts(conn, id)?;
    if drafts.is_empty() {
        return Err(ServiceError::Conflict(format!("campaign {id} has no open draft to commit")));
    }
    let mut out = BulkOutcome::default();
    for draft in drafts {
        let result = match out.event_id {
            None => imports::commit(conn, ctx, draft, actor, meta.clone()),
            Some(event) => imports::commit_into(conn, ctx, draft, actor, EventMeta::default(), Some(event)),
        };
        match result {
            Ok(c) => {
                out.event_id.get_or_insert(c.event_id);
                out.done.push(draft);
            }
            Err(e) => out.failed.push((draft, e.to_string())),
        }
    }
    audit_bulk(conn, "campaign.commit", id, actor, &out)?;
    Ok(out)
}

/// Abandons every open draft of a campaign. Audited.
pub fn abandon_all(conn: &mut DbConn, id: i64, actor: &str) -> Result<BulkOutcome, ServiceError> {
    let (id, drafts) = open_drafts(conn, id)?;
    let mut out = BulkOutcome::default();
    for draft in drafts {
        match imports::abandon(conn, draft) {
            Ok(_) => out.done.push(draft),
            Err(e) => out.failed.push((draft, e.to_string())),
        }
    }
    audit_bulk(conn, "campaign.abandon", id, actor, &out)?;
    Ok(out)
}

/// Sets the status of every indicator of the campaign's events (optionally of one type only).
/// Audited, and each indicator's history names the campaign.
pub fn set_indicator_status(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    id: i64,
    status: Status,
    kind: Option<ObservableKind>,
    actor: &str,
) -> Result<BulkOutcome, ServiceError> {
    let view = get(conn, id)?;
    let mut ids: Vec<i64> = Vec::new();
    for event in &view.events {
        ids.extend(
            crate::db::indicators::of_event(conn, *event)?
                .into_iter()
                .filter(|i| kind.is_none_or(|k| i.kind == k))
                .map(|i| i.id),
        );
    }
    ids.sort_unstable();
    ids.dedup();
    let mut out = BulkOutcome::default();
    let reason = format!("bulk change on campaign {}", view.row.id);
    for i in ids {
        let patch = Patch { status: Some(status), reason: Some(reason.clone()), ..Patch::default() };
        match super::indicators::patch(conn, ctx, i, &patch, actor) {
            Ok(_) => out.done.push(i),
            Err(e) => out.failed.push((i, e.to_string())),
        }
    }
    audit_bulk(conn, &format!("campaign.status.{}", status.as_str()), view.row.id, actor, &out)?;
    Ok(out)
}

/// The campaign a draft belongs to, if any.
pub fn of_draft(conn: &mut DbConn, import_id: i64) -> Result<Option<i64>, ServiceError> {
    match store::of_draft(conn, import_id)? {
        Some(c) => Ok(Some(resolve(conn, c)?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benign_infrastructure_covers_subdomains_only_at_a_label_boundary() {
        assert!(benign("gmail.com"));
        assert!(benign("eu.mimecast.com"));
        assert!(!benign("notgmail.com"));
        assert!(!benign("gmail.com.evil.example"));
    }

    #[test]
    fn titles_prefer_domains() {
        let keys = [("path".to_string(), "/a/{n}/b".to_string()), ("domain".into(), "evil.example".into())];
        assert_eq!(title_of(keys.iter()), "evil.example");
        assert_eq!(title_of([].iter()), "near-duplicate bodies");
    }

    #[test]
    fn hashes_survive_the_signed_column() {
        for h in [0u64, 1, u64::MAX, 0x8000_0000_0000_0000, 0xdead_beef_cafe_f00d] {
            assert_eq!(from_column(to_column(h)), h);
        }
    }
}
