//! Answers to reporters (issue 20): when a draft's verdict becomes final (committed into an
//! event: phish; closed as likely benign; abandoned: not phish), the employee who reported it
//! may get a short email saying so. Templates are per verdict, edited by administrators and off
//! until one turns them on. A message is rendered and queued in `notify_outbox` inside the
//! transaction that made the verdict final; the sender (`sender_loop`, one instance at a time
//! under the lease `job:notify`) sends it over SMTP with `lettre` (STARTTLS or implicit TLS,
//! rustls, optional AUTH) and retries with exponential backoff, so neither a restart nor an
//! SMTP outage loses a message.
//!
//! Sending is at-least-once only in one window: a sender that stops after the SMTP server
//! accepted a message and before `sent` is stored leaves it `sending`; it is sent again once
//! its claim runs out (`claim_secs`). Every attempt carries the same `Message-ID`, so the
//! receiving side sees one message twice rather than two messages. Two senders never send one
//! message at once: a claim is a compare-and-set on the row.
//!
//! Rendering is plain text only (`text/plain`): the reporter-controlled values (the reported
//! subject, the sender) are inserted as text with control characters removed and URLs defanged,
//! and the Subject header is one line of at most 200 characters, so neither HTML nor a header
//! can be injected.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ServiceError;
use super::leases::Leases;
pub use crate::db::notify::OutboxRow;
use crate::db::notify::{self as store, NewMessage, TemplateRow};
use crate::db::{Db, DbConn, now_micros};
use crate::settings::{NotifySettings, SecretRules, SmtpTls};

/// The final verdicts a reporter can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalVerdict {
    /// Committed into an event.
    Phish,
    /// Closed as (likely) benign.
    Benign,
    /// Abandoned: not a phish (spam, a test, a duplicate that needs no event).
    NotPhish,
}

impl FinalVerdict {
    pub const ALL: [FinalVerdict; 3] = [Self::Phish, Self::Benign, Self::NotPhish];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phish => "phish",
            Self::Benign => "benign",
            Self::NotPhish => "not_phish",
        }
    }

    pub fn parse(text: &str) -> Result<Self, ServiceError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| ServiceError::NotFound(format!("verdict '{text}' (phish, benign or not_phish)")))
    }

    fn default_template(self) -> (&'static str, &'static str) {
        match self {
            Self::Phish => (
                "Thank you: the email you reported was phishing",
                "Hello,\n\nThank you for reporting the email \"{{subject}}\" on {{reported_at}}.\n\n\
                 Our security team confirmed it was a phishing attempt and is blocking it. If you \
                 clicked a link or opened an attachment in it, or entered a password after it, \
                 please tell us now by answering this email.\n\nReference: {{reference}}\n",
            ),
            Self::Benign => (
                "The email you reported was not dangerous",
                "Hello,\n\nThank you for reporting the email \"{{subject}}\" on {{reported_at}}.\n\n\
                 Our security team checked it: it is legitimate mail. You can treat it as usual. \
                 Keep reporting anything that looks suspicious.\n\nReference: {{reference}}\n",
            ),
            Self::NotPhish => (
                "The email you reported was reviewed",
                "Hello,\n\nThank you for reporting the email \"{{subject}}\" on {{reported_at}}.\n\n\
                 Our security team reviewed it and found no phishing attempt in it. Keep reporting \
                 anything that looks suspicious.\n\nReference: {{reference}}\n",
            ),
        }
    }
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["subject", "sender", "reported_at", "verdict", "reference", "reporter"];

/// A template as shown and edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub verdict: FinalVerdict,
    pub enabled: bool,
    pub subject: String,
    pub body: String,
    pub updated_by: Option<String>,
    pub updated_at: Option<i64>,
}

/// The template of a verdict: the stored one, or the shipped default (off).
pub fn template(conn: &mut DbConn, verdict: FinalVerdict) -> Result<Template, ServiceError> {
    Ok(match store::template(conn, verdict.as_str())? {
        Some(row) => Template {
            verdict,
            enabled: row.enabled,
            subject: row.subject,
            body: row.body,
            updated_by: row.updated_by,
            updated_at: Some(row.updated_at),
        },
        None => {
            let (subject, body) = verdict.default_template();
            Template {
                verdict,
                enabled: false,
                subject: subject.into(),
                body: body.into(),
                updated_by: None,
                updated_at: None,
            }
        }
    })
}

pub fn templates(conn: &mut DbConn) -> Result<Vec<Template>, ServiceError> {
    FinalVerdict::ALL.into_iter().map(|v| template(conn, v)).collect()
}

/// Checks a template's text: known placeholders only, balanced braces, bounded sizes, a
/// one-line subject.
pub fn check_template(subject: &str, body: &str) -> Result<(), ServiceError> {
    if subject.trim().is_empty() || subject.chars().count() > 200 {
        return Err(ServiceError::Invalid("the subject needs 1-200 characters".into()));
    }
    if subject.chars().any(char::is_control) {
        return Err(ServiceError::Invalid("the subject must be one line without control characters".into()));
    }
    if body.trim().is_empty() || body.len() > 20_000 {
        return Err(ServiceError::Invalid("the body needs 1-20,000 bytes".into()));
    }
    for text in [subject, body] {
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let after = rest.get(open + 2..).unwrap_or_default();
            let close = after.find("}}").ok_or_else(|| ServiceError::Invalid("'{{' without '}}'".into()))?;
            let name = after.get(..close).unwrap_or_default().trim();
            if !PLACEHOLDERS.contains(&name) {
                return Err(ServiceError::Invalid(format!(
                    "unknown placeholder '{{{{{name}}}}}' (known: {})",
                    PLACEHOLDERS.join(", ")
                )));
            }
            rest = after.get(close + 2..).unwrap_or_default();
        }
    }
    Ok(())
}

/// Saves a template (administrators). Audited by the caller's edge through the returned row.
pub fn put_template(
    conn: &mut DbConn,
    verdict: FinalVerdict,
    enabled: bool,
    subject: &str,
    body: &str,
    actor: &str,
) -> Result<Template, ServiceError> {
    check_template(subject, body)?;
    let body = body.replace("\r\n", "\n");
    store::put_template(
        conn,
        &TemplateRow {
            verdict: verdict.as_str().into(),
            enabled,
            subject: subject.trim().into(),
            body: body.clone(),
            updated_by: Some(actor.into()),
            updated_at: now_micros(),
        },
    )?;
    crate::db::audit::insert(
        conn,
        &crate::db::audit::AuditEntry::new("notify.template")
            .actor(actor)
            .target(verdict.as_str())
            .detail(if enabled { "enabled" } else { "disabled" }),
    )?;
    template(conn, verdict)
}

/// A reporter-controlled value made safe for a plain-text message: control characters (CR and
/// LF included) become spaces, URL schemes and `www.` are defanged (an answer from the security
/// team must never carry a clickable hostile link), and the length is bounded.
pub fn plain(value: &str, max_chars: usize) -> String {
    let one_line: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut out = String::with_capacity(one_line.len());
    let mut rest = one_line.as_str();
    while let Some(i) = rest.find("://") {
        out.push_str(rest.get(..i).unwrap_or_default());
        out.push_str("[://]");
        rest = rest.get(i + 3..).unwrap_or_default();
    }
    out.push_str(rest);
    let out = out.replace("www.", "www[.]").replace("WWW.", "WWW[.]");
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut bounded: String = collapsed.chars().take(max_chars).collect();
    if collapsed.chars().count() > max_chars {
        bounded.push('…');
    }
    bounded
}

/// Fills a template's placeholders with values already made plain.
pub fn render(text: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(rest.get(..open).unwrap_or_default());
        let after = rest.get(open + 2..).unwrap_or_default();
        let Some(close) = after.find("}}") else {
            out.push_str(rest.get(open..).unwrap_or_default());
            return out;
        };
        let name = after.get(..close).unwrap_or_default().trim();
        out.push_str(values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or_default());
        rest = after.get(close + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// What [`on_final_verdict`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// A message to the reporter is in the outbox.
    Queued(String),
    /// Nothing to send, and why.
    Skipped(&'static str),
}

/// The verdict of a draft became final: queue the answer to its reporter if the verdict's
/// template is on. Call it inside the transaction that made the verdict final (commit, abandon,
/// close as benign), so the two commit together. Never answers twice for one draft and verdict.
pub fn on_final_verdict(
    conn: &mut DbConn,
    draft_id: i64,
    verdict: FinalVerdict,
) -> Result<Queued, ServiceError> {
    let t = template(conn, verdict)?;
    if !t.enabled {
        return Ok(Queued::Skipped("the verdict's template is off"));
    }
    let Some(row) = crate::db::imports::get(conn, draft_id)? else {
        return Ok(Queued::Skipped("no such draft"));
    };
    let Some(reporter) = row.reporter.clone().filter(|r| valid_address(r)) else {
        return Ok(Queued::Skipped("the draft has no reporter address"));
    };
    let reported_at = chrono::DateTime::from_timestamp_micros(row.created_at)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let values = [
        ("subject", plain(row.subject.as_deref().unwrap_or("(no subject)"), 150)),
        ("sender", plain(row.sender.as_deref().unwrap_or("(unknown)"), 150)),
        ("reported_at", reported_at),
        ("verdict", verdict.as_str().replace('_', " ")),
        ("reference", format!("HARPOON-{draft_id}")),
        ("reporter", plain(&reporter, 150)),
    ];
    let subject = plain(&render(&t.subject, &values), 200);
    let body = render(&t.body, &values);
    let message_id = uuid::Uuid::new_v4().simple().to_string();
    let now = now_micros();
    let queued = store::enqueue(
        conn,
        &NewMessage {
            import_id: Some(draft_id),
            verdict: verdict.as_str(),
            recipient: &reporter,
            subject: &subject,
            body: &body,
            message_id: &message_id,
            state: "queued",
            next_attempt_at: now,
            created_at: now,
        },
    )?;
    Ok(if queued { Queued::Queued(reporter) } else { Queued::Skipped("already answered") })
}

/// A final verdict was taken back (the undo of a close or a join): its answer is withdrawn unless
/// it is sent or being sent. Call it inside the undoing transaction. True when one was withdrawn.
pub fn on_verdict_undone(
    conn: &mut DbConn,
    draft_id: i64,
    verdict: FinalVerdict,
) -> Result<bool, ServiceError> {
    Ok(store::withdraw(conn, draft_id, verdict.as_str())?)
}

/// A plain `local@domain` address (what the extraction stores as the reporter).
fn valid_address(a: &str) -> bool {
    a.len() <= 254
        && a.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
        && !a.chars().any(|c| c.is_control() || c.is_whitespace() || "<>,;\"".contains(c))
}

/// The outbox as shown to administrators.
pub fn outbox(conn: &mut DbConn, state: Option<&str>, limit: i64) -> Result<Vec<OutboxRow>, ServiceError> {
    if let Some(s) = state
        && !["queued", "sending", "sent", "failed"].contains(&s)
    {
        return Err(ServiceError::Invalid(format!("unknown state '{s}' (queued, sending, sent, failed)")));
    }
    Ok(store::outbox(conn, state, limit.clamp(1, 1000))?)
}

/// Queues a failed message again (administrators). Audited.
pub fn retry(conn: &mut DbConn, id: i64, actor: &str) -> Result<(), ServiceError> {
    if !store::requeue(conn, id, now_micros())? {
        return Err(ServiceError::Conflict(format!("message {id} is not failed")));
    }
    crate::db::audit::insert(
        conn,
        &crate::db::audit::AuditEntry::new("notify.retry").actor(actor).target(format!("message {id}")),
    )?;
    Ok(())
}

/// The SMTP side, built once from the settings.
pub struct Mailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    reply_to: Option<lettre::message::Mailbox>,
    settings: NotifySettings,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("host", &self.settings.smtp_host).field("from", &self.from).finish()
    }
}

/// RFC 3834: an automatic answer, so auto-responders and mailbox rules do not answer it back.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-replied".into())
    }
}

impl Mailer {
    /// Checks the settings and builds the transport (no connection yet).
    pub fn new(settings: &NotifySettings, rules: &SecretRules) -> Result<Self, String> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        let host = settings.smtp_host.trim();
        if host.is_empty() {
            return Err("notify.smtp_host is not set".into());
        }
        let from: lettre::message::Mailbox =
            settings.from.parse().map_err(|e| format!("notify.from '{}': {e}", settings.from))?;
        let reply_to = match settings.reply_to.as_deref().filter(|r| !r.trim().is_empty()) {
            Some(r) => Some(r.parse().map_err(|e| format!("notify.reply_to '{r}': {e}"))?),
            None => None,
        };
        let mut params = TlsParameters::builder(host.to_string());
        if let Some(ca) = &settings.ca_file {
            let path = rules.ca_file(ca).map_err(|e| format!("notify.{e}"))?;
            let pem = std::fs::read(&path).map_err(|e| format!("notify.ca_file {}: {e}", path.display()))?;
            let cert =
                Certificate::from_pem(&pem).map_err(|e| format!("notify.ca_file {}: {e}", path.display()))?;
            params = params.add_root_certificate(cert);
        }
        let params = params.build_rustls().map_err(|e| format!("notify: TLS: {e}"))?;
        let tls = match settings.tls {
            SmtpTls::Starttls => Tls::Required(params),
            SmtpTls::Tls => Tls::Wrapper(params),
        };
        let port = settings.smtp_port.unwrap_or(match settings.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        });
        let mut builder = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(settings.timeout_secs.max(1))));
        if !settings.username.is_empty() {
            let var = settings
                .password_env
                .as_deref()
                .ok_or("notify.username is set but notify.password_env is not")?;
            rules.check_env("notify.password_env", var).map_err(|e| format!("notify: {e}"))?;
            let password =
                std::env::var(var).map_err(|_| format!("notify.password_env: {var} is not set"))?;
            builder = builder.credentials(Credentials::new(settings.username.clone(), password));
        }
        Ok(Self { transport: builder.build(), from, reply_to, settings: settings.clone() })
    }

    fn message(&self, row: &OutboxRow) -> Result<lettre::Message, String> {
        let to: lettre::message::Mailbox =
            row.recipient.parse().map_err(|e| format!("recipient '{}': {e}", row.recipient))?;
        let domain = self.from.email.domain().to_string();
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(plain(&row.subject, 200))
            .message_id(Some(format!("<{}@{domain}>", row.message_id)))
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .header(AutoSubmitted);
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.clone());
        }
        b.body(row.body.clone()).map_err(|e| format!("message: {e}"))
    }

    /// One attempt at one message.
    async fn send(&self, row: &OutboxRow) -> Result<(), String> {
        use lettre::AsyncTransport;
        let message = self.message(row)?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
    }

    /// When the next attempt of a message that failed `attempts` times goes, or `None` when it
    /// has had its last.
    fn next_attempt(&self, attempts: i32, now: i64) -> Option<i64> {
        if attempts >= i32::try_from(self.settings.max_attempts).unwrap_or(i32::MAX) {
            return None;
        }
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let secs = self
            .settings
            .backoff_initial_secs
            .max(1)
            .saturating_mul(1u64 << exp)
            .min(self.settings.backoff_max_secs.max(1));
        Some(now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX / 2).saturating_mul(1_000_000)))
    }

    /// Sends what is due: claims each message, sends it, stores the outcome. Returns how many
    /// were sent.
    pub async fn drain(&self, db: &Db) -> Result<usize, ServiceError> {
        let claim = i64::try_from(self.settings.claim_secs.max(1)).unwrap_or(300).saturating_mul(1_000_000);
        let due = db.run(move |conn| store::due(conn, now_micros(), 50)).await?;
        let mut sent = 0;
        for row in due {
            let r = row.clone();
            let claimed =
                db.run(move |conn| store::claim(conn, &r, now_micros().saturating_add(claim))).await?;
            if !claimed {
                continue;
            }
            let attempts = row.attempts + 1;
            let outcome = self.send(&row).await;
            let id = row.id;
            match outcome {
                Ok(()) => {
                    db.run(move |conn| store::mark_sent(conn, id, now_micros())).await?;
                    tracing::info!(message = id, verdict = %row.verdict, "answer sent to the reporter");
                    sent += 1;
                }
                Err(e) => {
                    let next = self.next_attempt(attempts, now_micros());
                    tracing::warn!(message = id, attempts, "cannot send the answer to the reporter: {e}");
                    db.run(move |conn| store::mark_failed(conn, id, &e, next)).await?;
                }
            }
        }
        Ok(sent)
    }
}

/// The sender: every `poll_secs`, the instance holding `job:notify` drains the outbox.
pub async fn sender_loop(db: Db, mailer: Mailer, leases: Leases) {
    let mut tick = tokio::time::interval(Duration::from_secs(mailer.settings.poll_secs.max(1)));
    loop {
        tick.tick().await;
        if !leases.hold("job:notify").await {
            continue;
        }
        if let Err(e) = mailer.drain(&db).await {
            tracing::warn!("notify: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporter_text_cannot_break_lines_or_carry_links() {
        let hostile =
            "Invoice\r\nBcc: everyone@acme.example\r\n\r\n<b>http://evil.example/x</b> www.evil.example";
        let p = plain(hostile, 500);
        assert!(!p.contains('\r') && !p.contains('\n'), "{p}");
        assert!(!p.contains("http://") && !p.contains("www.evil"), "{p}");
        assert!(p.contains("Bcc: everyone@acme.example"), "kept as text: {p}");
        assert_eq!(plain(&"a".repeat(300), 10), format!("{}…", "a".repeat(10)));
    }

    #[test]
    fn templates_know_their_placeholders() {
        assert!(check_template("Re: {{subject}}", "Hello {{ reporter }}, {{reference}}").is_ok());
        assert!(check_template("x", "{{password}}").is_err());
        assert!(check_template("x", "{{subject").is_err());
        assert!(check_template("two\nlines", "body").is_err());
        for v in FinalVerdict::ALL {
            let (s, b) = v.default_template();
            assert!(check_template(s, b).is_ok(), "{v:?}");
        }
        assert_eq!(
            render(
                "Re: {{subject}} ({{ reference }}) {{x",
                &[("subject", "Hi".into()), ("reference", "R-1".into())]
            ),
            "Re: Hi (R-1) {{x"
        );
    }
}
