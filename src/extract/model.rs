//! The extraction result: what `extract` returns and `--format json` prints.

use serde::Serialize;

pub use super::archive::{ArchiveMember, Hashes};
use super::value::{IndicatorValue, ObservableKind};

/// Everything found in one input.
#[derive(Debug, Clone, Serialize)]
pub struct Extraction {
    pub input: InputKind,
    /// Index 0 is the outermost message; forwarded and attached messages follow.
    pub messages: Vec<MessageInfo>,
    pub attachments: Vec<AttachmentInfo>,
    pub observables: Vec<Observable>,
    /// Decoded texts that observables point into (`Provenance::text` is an index here).
    pub texts: Vec<PartText>,
    pub warnings: Vec<Warning>,
    /// Bytes decoded in all, against `ExtractOptions::max_decoded_bytes` (for measuring the
    /// budget's margin over real mail; not part of the JSON).
    #[serde(skip)]
    pub decoded_bytes: u64,
    /// Images handed to the QR reader (for the benchmark's worst email with and without
    /// images; not part of the JSON).
    #[serde(skip)]
    pub images_read: usize,
}

impl Extraction {
    /// The message that was reported: the first forwarded one if there is an envelope,
    /// otherwise the outermost.
    pub fn reported(&self) -> Option<&MessageInfo> {
        self.messages.iter().find(|m| m.role == MessageRole::Reported).or_else(|| self.messages.first())
    }

    /// Observables proposed as indicators (not whitelisted).
    pub fn proposed(&self) -> impl Iterator<Item = &Observable> {
        self.observables.iter().filter(|o| o.whitelisted.is_none())
    }

    /// The observable of this kind and canonical value, if found.
    pub fn find(&self, kind: ObservableKind, value: &str) -> Option<&Observable> {
        self.observables.iter().find(|o| o.indicator.kind == kind && o.indicator.value == value)
    }

    /// The source text a provenance points into, and the highlighted slice.
    pub fn excerpt(&self, p: &Provenance) -> Option<&str> {
        self.texts.get(p.text)?.text.get(p.start..p.end)
    }
}

/// What the input bytes were recognised as (by magic bytes and shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Eml,
    Msg,
    Mbox,
    /// Header lines with no body.
    PastedHeaders,
    /// Text with no header block (a pasted body).
    PastedText,
}

/// A message's part in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    /// A message with nothing forwarded inside it.
    Single,
    /// The employee's report wrapping a forwarded message: context, not indicators.
    ReporterEnvelope,
    /// A forwarded (attached or inline) message: the phish.
    Reported,
}

/// How a message was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageSource {
    Eml,
    Msg,
    Pasted,
    /// A `message/rfc822` part or an attached `.eml`.
    AttachedEml,
    AttachedMsg,
    InlineForward,
    /// The MIME content of an S/MIME-signed Outlook message: the same message, not a forward.
    SignedContent,
}

/// An address as written: the address is never taken from the display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: Option<String>,
}

/// One `Received:` hop, newest first as in the header block.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReceivedHop {
    pub from_host: Option<String>,
    pub from_ip: Option<String>,
    /// Reverse DNS name the receiving server recorded for the sender.
    pub from_rdns: Option<String>,
    pub by_host: Option<String>,
    pub protocol: Option<String>,
    /// RFC 3339.
    pub time: Option<String>,
}

/// SPF/DKIM/DMARC verdicts from the topmost `Authentication-Results` (SPF falls back to
/// `Received-SPF`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuthResults {
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub dmarc: Option<String>,
}

/// The attributes of one message.
#[derive(Debug, Clone, Serialize)]
pub struct MessageInfo {
    pub index: usize,
    pub parent: Option<usize>,
    /// Nesting path, e.g. `eml/part2:phish.eml/eml`.
    pub path: String,
    pub role: MessageRole,
    pub source: MessageSource,
    pub subject: Option<String>,
    pub from: Vec<Mailbox>,
    pub sender: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub return_path: Option<String>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    /// RFC 3339 when parseable, else as written.
    pub date: Option<String>,
    pub message_id: Option<String>,
    pub x_mailer: Option<String>,
    pub user_agent: Option<String>,
    pub x_originating_ip: Option<String>,
    pub received: Vec<ReceivedHop>,
    pub auth: AuthResults,
}

/// An attachment (or a forwarded message as a file).
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentInfo {
    /// The message it is attached to.
    pub message: usize,
    pub path: String,
    pub name: Option<String>,
    pub mime_type: Option<String>,
    pub size: u64,
    pub hashes: Hashes,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<ArchiveMember>,
    /// The message parsed out of it, for `.eml`/`.msg`/`message/rfc822`.
    pub nested_message: Option<usize>,
}

/// Where a decoded text came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// A header field value (folded as sent; the Subject decoded).
    Header { name: String },
    /// A body part.
    Body { part: String, content_type: String },
    /// A text or HTML attachment.
    Attachment { name: String, content_type: String },
    /// A string decoded out of a script (`unescape`, `atob`, `decodeURIComponent`) found at
    /// `start..end` of text `text`.
    Decoded { text: usize, start: usize, end: usize, how: String },
    /// The strings of the QR codes in an image (an attachment, an inline part, an archive
    /// member or a `data:` URL), one per line.
    QrCode { image: String, content_type: String },
}

/// A decoded text that spans point into.
#[derive(Debug, Clone, Serialize)]
pub struct PartText {
    pub message: usize,
    pub location: Location,
    pub text: String,
}

/// One place an observable was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// Index into [`Extraction::texts`].
    pub text: usize,
    /// The message it belongs to (an inline forward's text belongs to the forwarded message).
    pub message: usize,
    /// Byte span in the text.
    pub start: usize,
    pub end: usize,
    pub defanged: bool,
}

/// Why an observable is kept but not proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhitelistReason {
    OwnDomain,
    OwnMailHost,
    /// Private, loopback, link-local, documentation, multicast or reserved address.
    NonPublicIp,
    /// The reporter's own envelope (their address, their mail servers).
    Reporter,
    /// A mail provider's relay in the Received chain (not the origin hop).
    MailRelay,
    /// XML namespace and schema hosts (`w3.org`, `schemas.microsoft.com`).
    WellKnown,
    /// A redirector or link-rewriting gateway (Safe Links, Proofpoint, …): context; the
    /// target it hides is the indicator (`unwraps_to`).
    RedirectWrapper,
}

/// A value found, with everywhere it was found.
#[derive(Debug, Clone, Serialize)]
pub struct Observable {
    #[serde(flatten)]
    pub indicator: IndicatorValue,
    /// Seen in a defanged form at least once.
    pub defanged: bool,
    pub whitelisted: Option<WhitelistReason>,
    /// `Reported` if seen in the reported message, else the role where it was seen.
    pub role: MessageRole,
    /// Total occurrences; `provenance` keeps the first few.
    pub occurrences: usize,
    pub provenance: Vec<Provenance>,
    /// For a redirect wrapper: the URLs it was decoded to (canonical values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unwraps_to: Vec<String>,
}

/// What kind of limit or damage a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    MessageTooLarge,
    MimeDepth,
    TooManyParts,
    HeaderTooLong,
    NestingDepth,
    ArchiveLimit,
    /// An image over the size, pixel, time or per-input count limits: not read for QR codes.
    ImageLimit,
    ObservableLimit,
    /// The input's budget (decoded bytes, kept text or time) is spent: the rest not read.
    Budget,
    Malformed,
    Internal,
}

/// Something cut or unreadable: extraction went on with what was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub detail: String,
}
