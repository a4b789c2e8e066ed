//! The one typed configuration. Defaults live in code; a TOML file (`--config`) overrides them;
//! command-line flags and `HARPOON_*` environment variables override the file. Unknown keys are
//! rejected. `docs/harpoon.example.toml` is generated from these defaults and doc comments
//! (`harpoon config example`); a test keeps the committed file equal to the generated one.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Harpoon's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Directory for local state: the default SQLite database `harpoon.db` lives here.
    pub data_dir: PathBuf,
    /// The HTTP(S) listener.
    pub server: ServerSettings,
    /// Where the data is stored.
    pub database: DatabaseSettings,
    /// Authentication tuning.
    pub auth: AuthSettings,
    /// TAXII 2.1 server limits.
    pub taxii: TaxiiSettings,
    /// The organisation Harpoon works for.
    pub organisation: OrganisationSettings,
    /// Triage: indicator defaults, expiry policy, publication.
    pub triage: TriageSettings,
    /// Imports: how many emails are extracted at once and how many requests may wait.
    pub imports: ImportSettings,
    /// Mailbox connectors (IMAP, POP3) that pull reported emails on their own.
    pub connectors: ConnectorSettings,
    /// Operations on indicators: nslookup, url-to-fqdn, splunk-search and script operations.
    pub operations: OperationsSettings,
    /// The audit log.
    pub audit: AuditSettings,
    /// Where secrets and trust anchors may come from.
    pub security: SecuritySettings,
    /// Several instances on one database: leases for background and periodic work.
    pub cluster: ClusterSettings,
    /// Subscriptions: remote feeds (TAXII 2.1 collections) Harpoon polls on its own.
    pub subscriptions: SubscriptionSettings,
    /// Limits of reading one email (design §6): what a hostile email can make Harpoon spend.
    pub extract: ExtractSettings,
    /// Answers to reporters by email when a draft's verdict is final (off by default).
    pub notify: NotifySettings,
    /// Campaigns: reported emails grouped by shared infrastructure and kit.
    pub campaigns: CampaignSettings,
}

/// The limits of reading one email. Hitting one stops that branch of the email (a MIME part, an
/// archive member, a nested message) and is shown on the draft as a limit hit; the import goes
/// on with what was read. The defaults leave every email of the test corpus untouched (the
/// largest decoded total there is about a tenth of `max_decoded_bytes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractSettings {
    /// Bytes of an email read; beyond them it is cut.
    pub max_message_bytes: usize,
    /// Bytes decoded for one email in all: MIME parts, nested messages, archive members at any
    /// depth, `.msg` streams, TNEF, PDF streams and embedded files, images.
    pub max_decoded_bytes: u64,
    /// Bytes of decoded text kept for scanning (and shown in QA), per email in all.
    pub max_text_bytes: usize,
    /// Milliseconds one email may take to read; past it nothing more is decoded.
    pub max_millis: u64,
    /// MIME parts and `.msg`/TNEF attachments read per email.
    pub max_parts: usize,
    /// Multipart nesting levels followed.
    pub max_mime_depth: usize,
    /// Messages inside messages followed (attached, forwarded, embedded).
    pub max_nesting: usize,
    /// A header value longer than this is cut before it is scanned.
    pub max_header_line: usize,
    /// Members listed per archive.
    pub max_archive_members: usize,
    /// An archive inflates to at most this multiple of its size ...
    pub max_archive_ratio: u64,
    /// ... and at most this many bytes.
    pub max_archive_bytes: u64,
    /// Distinct values kept per email.
    pub max_observables: usize,
    /// Messages read from one mbox.
    pub max_mbox_messages: usize,
}

impl Default for ExtractSettings {
    fn default() -> Self {
        let o = crate::extract::ExtractOptions::default();
        Self {
            max_message_bytes: o.max_message_bytes,
            max_decoded_bytes: o.max_decoded_bytes,
            max_text_bytes: o.max_text_bytes,
            max_millis: o.max_millis,
            max_parts: o.max_parts,
            max_mime_depth: o.max_mime_depth,
            max_nesting: o.max_nesting,
            max_header_line: o.max_header_line,
            max_archive_members: o.max_archive_members,
            max_archive_ratio: o.max_archive_ratio,
            max_archive_bytes: o.max_archive_bytes,
            max_observables: o.max_observables,
            max_mbox_messages: o.max_mbox_messages,
        }
    }
}

impl ExtractSettings {
    /// The extraction options: these limits, the organisation's domains and mail hosts.
    pub fn options(&self, domains: &[&str], mail_hosts: &[&str]) -> crate::extract::ExtractOptions {
        crate::extract::ExtractOptions {
            max_message_bytes: self.max_message_bytes,
            max_decoded_bytes: self.max_decoded_bytes,
            max_text_bytes: self.max_text_bytes,
            max_millis: self.max_millis,
            max_parts: self.max_parts,
            max_mime_depth: self.max_mime_depth,
            max_nesting: self.max_nesting,
            max_header_line: self.max_header_line,
            max_archive_members: self.max_archive_members,
            max_archive_ratio: self.max_archive_ratio,
            max_archive_bytes: self.max_archive_bytes,
            max_observables: self.max_observables,
            max_mbox_messages: self.max_mbox_messages,
            ..crate::extract::ExtractOptions::for_organisation(domains, mail_hosts)
        }
    }
}

/// Campaigns (README, "Campaigns"): each imported draft's keys (registered domains, IPs, URL
/// path shapes, a SimHash of its body) are stored and the draft joins the campaign of the
/// drafts it shares one with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CampaignSettings {
    /// Group drafts into campaigns at import.
    pub enabled: bool,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Answers to reporters (docs in README, "Answering reporters"): when a draft is committed,
/// closed as benign or abandoned, the reporter may get an email from a template an
/// administrator turns on. Messages wait in the database's outbox; one instance sends them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// Send the queued answers from this instance (templates still queue them when off; they
    /// wait in the outbox).
    pub enabled: bool,
    /// The SMTP server (submission), e.g. `smtp.example.org`.
    pub smtp_host: String,
    /// Its port; unset: 587 with `starttls`, 465 with `tls`.
    pub smtp_port: Option<u16>,
    /// `starttls` (a plain connection upgraded, refused if the server cannot) or `tls` (TLS
    /// from the first byte). The server's certificate is always verified.
    pub tls: SmtpTls,
    /// A CA file (PEM) the server's certificate is checked against besides the public roots,
    /// inside `security.ca_dir`.
    pub ca_file: Option<PathBuf>,
    /// User name for SMTP AUTH; empty: no authentication.
    pub username: String,
    /// Environment variable holding the SMTP password (must start with
    /// `security.secret_env_prefix`).
    pub password_env: Option<String>,
    /// The sender, e.g. `Security team <security@example.org>`.
    pub from: String,
    /// Where the reporters' replies go, if not to `from`.
    pub reply_to: Option<String>,
    /// Seconds between two looks at the outbox.
    pub poll_secs: u64,
    /// Attempts of one message before it is marked failed (an administrator can retry it).
    pub max_attempts: u32,
    /// Seconds before the second attempt; doubled per failure.
    pub backoff_initial_secs: u64,
    /// Longest wait between two attempts, in seconds.
    pub backoff_max_secs: u64,
    /// Seconds one SMTP step may take.
    pub timeout_secs: u64,
    /// Seconds a message being sent stays claimed; a sender that stopped mid-way leaves it to
    /// be sent again after this.
    pub claim_secs: u64,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            enabled: false,
            smtp_host: String::new(),
            smtp_port: None,
            tls: SmtpTls::Starttls,
            ca_file: None,
            username: String::new(),
            password_env: None,
            from: "Harpoon <harpoon@localhost.localdomain>".into(),
            reply_to: None,
            poll_secs: 5,
            max_attempts: 8,
            backoff_initial_secs: 30,
            backoff_max_secs: 3600,
            timeout_secs: 30,
            claim_secs: 300,
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// STARTTLS on a plain connection (587), required.
    #[default]
    Starttls,
    /// TLS from the first byte (465).
    Tls,
}

/// Leases (ARCHITECTURE.md, "Leases"): background work and periodic jobs are held by one
/// instance through a row in the database, renewed while it works, taken over when it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// Seconds a lease lasts without renewal: another instance takes over the work of one that
    /// stopped within this time plus `sweep_secs`. Renewed every third of it.
    pub lease_secs: u64,
    /// Seconds between two looks for expired leases (and at start).
    pub sweep_secs: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self { lease_secs: 15, sweep_secs: 10 }
    }
}

/// The audit log (who did what; failed logins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Days an entry is kept; older ones are deleted every hour. 0 keeps every entry.
    pub retention_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { retention_days: 365 }
    }
}

/// Where secrets and trust anchors may come from, so that whoever can edit a connector or the
/// configuration cannot make Harpoon read any environment variable or file it can reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Directory of the CA files (`ca_file` of connectors and of Splunk): a relative `ca_file` is
    /// taken inside it, and a path outside it (or leaving it with `..` or a symbolic link) is
    /// refused. Unset: `ca` in `data_dir`.
    pub ca_dir: Option<PathBuf>,
    /// Prefix every environment variable named as a secret (`password_env` of connectors,
    /// `token_env` and `password_env` of Splunk) must start with.
    pub secret_env_prefix: String,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self { ca_dir: None, secret_env_prefix: "HARPOON_SECRET_".into() }
    }
}

/// The rules of [`SecuritySettings`], resolved (the CA directory made absolute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRules {
    pub ca_dir: PathBuf,
    pub env_prefix: String,
}

impl SecretRules {
    /// `what` (e.g. `password_env`) may name the variable `var`.
    pub fn check_env(&self, what: &str, var: &str) -> Result<(), String> {
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("{what} '{}' is not an environment variable name", var.escape_debug()));
        }
        if !var.starts_with(&self.env_prefix) {
            return Err(format!(
                "{what} '{var}' must start with '{}' (security.secret_env_prefix)",
                self.env_prefix
            ));
        }
        Ok(())
    }

    /// The path `ca_file` stands for, checked without touching the disk: inside the CA directory
    /// (relative paths are taken there) and without `..`.
    pub fn ca_path(&self, ca_file: &Path) -> Result<PathBuf, String> {
        if ca_file.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(format!("ca_file {}: '..' is not allowed", ca_file.display()));
        }
        let path = if ca_file.is_absolute() { ca_file.to_path_buf() } else { self.ca_dir.join(ca_file) };
        if !path.starts_with(&self.ca_dir) {
            return Err(format!(
                "ca_file {} is outside the CA directory {} (security.ca_dir)",
                ca_file.display(),
                self.ca_dir.display()
            ));
        }
        Ok(path)
    }

    /// [`Self::ca_path`], then resolved on disk: the file must exist and stay inside the CA
    /// directory once symbolic links are followed. Called where the file is read.
    pub fn ca_file(&self, ca_file: &Path) -> Result<PathBuf, String> {
        let path = self.ca_path(ca_file)?;
        let dir = self
            .ca_dir
            .canonicalize()
            .map_err(|e| format!("the CA directory {} (security.ca_dir): {e}", self.ca_dir.display()))?;
        let real = path.canonicalize().map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
        if !real.starts_with(&dir) {
            return Err(format!(
                "ca_file {} leads outside the CA directory {} (a symbolic link)",
                ca_file.display(),
                self.ca_dir.display()
            ));
        }
        Ok(real)
    }
}

/// Operations on indicators (docs/operations.md). Runs go in the background, bounded in time
/// and in how many of one operation run at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OperationsSettings {
    /// Seconds a run may take when its operation sets no timeout of its own.
    pub default_timeout_secs: u64,
    /// Runs of one operation at the same time; more wait (status `queued`).
    pub max_concurrent_runs: usize,
    /// Runs queued or running in one instance at most; more are refused (429).
    pub max_queued_runs: usize,
    /// Seconds any run may take at most: a script manifest's `timeout_secs` above it is cut to
    /// it (with a warning).
    pub max_timeout_secs: u64,
    /// At commit, also keep each URL's host (and its registered domain) as indicators related to
    /// the URL, as the url-to-fqdn operation does.
    pub url_to_fqdn_at_commit: bool,
    /// The nslookup operation.
    pub nslookup: NslookupSettings,
    /// The splunk-search operation (offered only when `url` is set).
    pub splunk: SplunkSettings,
    /// Script operations: executables with a manifest in a directory.
    pub scripts: ScriptSettings,
    /// Outbound HTTP (every operation's, through one client).
    pub http: HttpClientSettings,
}

/// The nslookup operation (A, AAAA, CNAME, MX; PTR for IPs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NslookupSettings {
    /// DNS server to ask, `IP:port` (e.g. `10.0.0.53:53`); empty: the system resolver
    /// (`/etc/resolv.conf`).
    pub resolver: String,
    /// Seconds one DNS query may take.
    pub timeout_secs: u64,
}

/// The splunk-search operation: Splunk's REST API `search/jobs/export`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SplunkSettings {
    /// Base URL of the Splunk management port, e.g. `https://splunk.example.org:8089`; empty:
    /// the operation is not offered.
    pub url: String,
    /// Environment variable holding a Splunk authentication token (`Authorization: Bearer`).
    pub token_env: String,
    /// File holding the token (read at each run), instead of `token_env`.
    pub token_file: Option<PathBuf>,
    /// User for Basic authentication when no token is configured.
    pub username: String,
    /// Environment variable holding that user's password.
    pub password_env: String,
    /// File holding that user's password, instead of `password_env`.
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA that signed Splunk's certificate (added to the public roots).
    pub ca_file: Option<PathBuf>,
    /// The search; `{value}` becomes the indicator's value as a quoted, escaped term.
    pub search_template: String,
    /// Default window: the last N days (a run may ask for another).
    pub window_days: u32,
    /// Most events read per run (`| head N`).
    pub max_rows: u32,
    /// Events kept in a run's output as a sample.
    pub sample_size: usize,
    /// Seconds a run may take.
    pub timeout_secs: u64,
}

/// Script operations (docs/operations.md): an executable `NAME` with a manifest `NAME.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptSettings {
    /// Directory of the scripts and their manifests; absent: no script operations.
    pub dir: Option<PathBuf>,
    /// `PATH` given to scripts (their environment is otherwise empty).
    pub path: String,
    /// Most bytes read from a script's stdout (and, separately, its stderr).
    pub max_output_bytes: usize,
    /// Configuration per script operation, passed in its input's `config`: only the keys its
    /// manifest declares, e.g. `{ "suricata-eve" = { eve_file = "/var/log/suricata/eve.json" } }`.
    pub config: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

/// The one outbound HTTP client (net.rs): rustls, timeouts, a body cap, no blind redirects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HttpClientSettings {
    /// Seconds to establish a connection.
    pub connect_timeout_secs: u64,
    /// Most bytes of a response body read.
    pub max_body_bytes: usize,
    /// Redirects followed (same host only); 0 refuses them.
    pub max_redirects: usize,
}

impl Default for OperationsSettings {
    fn default() -> Self {
        Self {
            default_timeout_secs: 60,
            max_concurrent_runs: 2,
            max_queued_runs: 100,
            max_timeout_secs: 3600,
            url_to_fqdn_at_commit: true,
            nslookup: NslookupSettings::default(),
            splunk: SplunkSettings::default(),
            scripts: ScriptSettings::default(),
            http: HttpClientSettings::default(),
        }
    }
}

impl Default for NslookupSettings {
    fn default() -> Self {
        Self { resolver: String::new(), timeout_secs: 5 }
    }
}

impl Default for SplunkSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            token_env: String::new(),
            token_file: None,
            username: String::new(),
            password_env: String::new(),
            password_file: None,
            ca_file: None,
            search_template: "search index=* {value}".into(),
            window_days: 7,
            max_rows: 1000,
            sample_size: 5,
            timeout_secs: 120,
        }
    }
}

impl SplunkSettings {
    /// The rules every Splunk setting must follow: an HTTPS URL (the token or password crosses
    /// it), secrets only from variables with the configured prefix, the CA file from the CA
    /// directory.
    pub fn check(&self, rules: &SecretRules) -> Result<(), String> {
        let url = self.url.trim();
        if !url.is_empty() && !url.to_ascii_lowercase().starts_with("https://") {
            return Err(format!("operations.splunk.url '{url}' must be an https:// URL"));
        }
        if !self.token_env.is_empty() {
            rules.check_env("operations.splunk.token_env", &self.token_env)?;
        }
        if !self.password_env.is_empty() {
            rules.check_env("operations.splunk.password_env", &self.password_env)?;
        }
        if let Some(ca) = &self.ca_file {
            rules.ca_path(ca).map_err(|e| format!("operations.splunk.{e}"))?;
        }
        Ok(())
    }
}

impl Default for ScriptSettings {
    fn default() -> Self {
        Self {
            dir: None,
            path: "/usr/local/bin:/usr/bin:/bin".into(),
            max_output_bytes: 1 << 20,
            config: std::collections::BTreeMap::new(),
        }
    }
}

impl Default for HttpClientSettings {
    fn default() -> Self {
        Self { connect_timeout_secs: 10, max_body_bytes: 16 << 20, max_redirects: 0 }
    }
}

/// Imports (REST, UI, CLI, connectors): extraction is CPU- and memory-bound, so only so many
/// emails are extracted at once; the rest wait their turn instead of starving other requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ImportSettings {
    /// Emails extracted (and stored) at the same time; the others wait. 0: half the CPU cores,
    /// at least one, so that extraction never takes every core from the HTTP workers.
    pub max_concurrent: usize,
    /// Import requests (REST, UI) that may wait for their turn; beyond that REST answers 503
    /// with `Retry-After` and the UI asks to try again. Connectors, background UI jobs and the
    /// CLI wait without this bound (each is one sequential stream of imports).
    pub max_queued: usize,
    /// Bytes of request bodies the admitted import requests (running or waiting) may hold in
    /// all; a request that would pass it is refused like one beyond `max_queued` (a single body
    /// larger than this is still taken when no other is held). With the extraction budget this
    /// bounds the memory a burst of pushes can take.
    pub max_queued_bytes: u64,
    /// Seconds a REST import request that finds the queue full (in requests or in bytes) waits
    /// for a place before it is answered 503, its body still unread: a refused body must be
    /// read to the end and dropped so that the client reads the answer, and a burst of refused
    /// 50 MB pushes re-sent every few seconds costs the HTTP workers more than waiting does.
    /// 0: answer 503 at once.
    pub max_wait_secs: u64,
    /// REST import requests that may wait so (each holds a connection, not its body); beyond
    /// that they are answered 503 at once.
    pub max_waiting: usize,
    /// How much lower than the HTTP workers' the CPU priority of extraction is (a nice value
    /// added to the import threads, 0 to 19; 0 keeps it equal): when the cores are busy, TAXII
    /// polls and UI pages are served first and imports take what is left.
    pub nice: i32,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            max_concurrent: 0,
            max_queued: 8,
            max_queued_bytes: 128 << 20,
            max_wait_secs: 30,
            max_waiting: 64,
            nice: 10,
        }
    }
}

impl ImportSettings {
    /// `max_concurrent` with 0 resolved from the core count.
    pub fn concurrency(&self) -> usize {
        match self.max_concurrent {
            0 => std::thread::available_parallelism().map_or(1, |n| (usize::from(n) / 2).max(1)),
            n => n,
        }
    }
}

/// Mailbox connectors (IMAP, POP3). Connectors are defined here (read-only over REST) or by an
/// administrator over `/api/v1/connectors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorSettings {
    /// Run the connectors in this instance (false: configure them here, run them elsewhere).
    pub enabled: bool,
    /// Seconds between two polls of a mailbox that is not watched with IDLE (and of POP3).
    pub poll_interval_secs: u64,
    /// Seconds an IMAP IDLE lasts before it is renewed (servers drop idle clients after 30 min).
    pub idle_renew_secs: u64,
    /// Seconds one network step (connect, TLS, a command, a message) may take.
    pub timeout_secs: u64,
    /// Milliseconds before the first retry of a mailbox that is down; doubled per failure.
    pub backoff_initial_ms: u64,
    /// Longest wait between retries of a mailbox that is down, in seconds.
    pub backoff_max_secs: u64,
    /// The connectors defined in this file, e.g.
    /// `{ name = "reports", protocol = "imap", host = "mail.example.org", username = "phish",
    /// password_env = "HARPOON_SECRET_IMAP" }`; see README for every key.
    pub mailboxes: Vec<MailboxSettings>,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_secs: 60,
            idle_renew_secs: 25 * 60,
            timeout_secs: 60,
            backoff_initial_ms: 1000,
            backoff_max_secs: 300,
            mailboxes: Vec::new(),
        }
    }
}

/// Which protocol a connector speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailProtocol {
    Imap,
    Pop3,
}

impl MailProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            MailProtocol::Imap => "imap",
            MailProtocol::Pop3 => "pop3",
        }
    }
}

/// How a connector's TLS starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// TLS from the first byte (IMAPS 993, POP3S 995).
    #[default]
    Implicit,
    /// Plain connection upgraded with STARTTLS / STLS (143, 110); refused if the server cannot.
    Starttls,
}

/// What happens to a message on the server once it is stored in Harpoon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AfterImport {
    /// IMAP: set `flag` on it (messages with the flag are not taken again).
    Flag,
    /// IMAP: move it to `move_to`.
    Move,
    /// IMAP and POP3: delete it.
    Delete,
    /// POP3: leave it (UIDL remembers what was taken).
    Leave,
}

/// One mailbox connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxSettings {
    /// Unique name (letters, digits, `-`, `_`); imports are labelled `imap:NAME` / `pop3:NAME`.
    pub name: String,
    /// `imap` or `pop3`.
    pub protocol: MailProtocol,
    /// Server host name (checked against its certificate).
    pub host: String,
    /// Server port; unset means 993/143 (IMAP) or 995/110 (POP3) by `tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `implicit` or `starttls`; plain text is never used.
    #[serde(default)]
    pub tls: MailTls,
    /// PEM file of the CA certificates to trust instead of the built-in web roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Login name.
    pub username: String,
    /// Name of the environment variable that holds the password (the configuration file never
    /// holds one; over REST a password may instead be given, and is stored encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// IMAP folder to watch.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// After storing: `flag` or `move` or `delete` (IMAP), `delete` or `leave` (POP3). Unset:
    /// `flag` for IMAP, `leave` for POP3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<AfterImport>,
    /// IMAP flag or keyword marking a processed message.
    #[serde(default = "default_flag")]
    pub flag: String,
    /// IMAP folder processed messages move to (`after = "move"`); created if missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to: Option<String>,
    /// Watch with IDLE when the server offers it (otherwise poll).
    #[serde(default = "default_true")]
    pub idle: bool,
    /// Seconds between polls for this connector (overrides `poll_interval_secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_secs: Option<u64>,
    /// Commit each new draft into an event at once, with `meta`, instead of leaving it for QA.
    #[serde(default)]
    pub commit: bool,
    /// Default event metadata of the drafts (and events) this connector creates.
    #[serde(default)]
    pub meta: crate::domain::EventMeta,
    /// False: configured but not running.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_folder() -> String {
    "INBOX".into()
}

fn default_flag() -> String {
    "$HarpoonImported".into()
}

fn default_true() -> bool {
    true
}

/// Subscriptions (README, "Subscriptions"): remote feeds Harpoon polls. Defined here
/// (read-only over REST) or by an administrator over `/api/v1/subscriptions` or the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriptionSettings {
    /// Poll the subscriptions in this instance (false: configure them here, poll elsewhere).
    pub enabled: bool,
    /// Seconds between two polls of a subscription that sets no `interval_secs`.
    pub poll_interval_secs: u64,
    /// Seconds one request to a remote server may take (connect, send, the whole page).
    pub timeout_secs: u64,
    /// Milliseconds before the first retry of a remote that failed; doubled per failure.
    pub backoff_initial_ms: u64,
    /// Longest wait between retries of a remote that is down, in seconds.
    pub backoff_max_secs: u64,
    /// Objects asked for per page (`limit`) when a subscription sets no `page_size`.
    pub page_size: u32,
    /// The subscriptions defined in this file, e.g. `{ name = "cert-example", url =
    /// "https://taxii.example.org/taxii2/", collection = "Indicators", auth = "bearer",
    /// secret_env = "HARPOON_SECRET_CERT" }`; see README for every key.
    pub feeds: Vec<FeedSettings>,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_secs: 300,
            timeout_secs: 60,
            backoff_initial_ms: 2000,
            backoff_max_secs: 900,
            page_size: 500,
            feeds: Vec::new(),
        }
    }
}

/// The protocol a subscription speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FeedProtocol {
    /// A TAXII 2.1 collection (discovery or API root URL, collection by id or title).
    #[default]
    #[serde(rename = "taxii21")]
    Taxii21,
}

impl FeedProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedProtocol::Taxii21 => "taxii21",
        }
    }
}

/// How a subscription authenticates to its remote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeedAuth {
    /// Anonymous (a public feed), or only the client certificate.
    #[default]
    None,
    /// HTTP Basic: `username` and the secret as password.
    Basic,
    /// `Authorization: Token <secret>`.
    Token,
    /// `Authorization: Bearer <secret>`.
    Bearer,
}

impl FeedAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedAuth::None => "none",
            FeedAuth::Basic => "basic",
            FeedAuth::Token => "token",
            FeedAuth::Bearer => "bearer",
        }
    }
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedSettings {
    /// Unique name (letters, digits, `-`, `_`); its indicators' source is `subscription:NAME`.
    pub name: String,
    /// `taxii21`.
    #[serde(default)]
    pub protocol: FeedProtocol,
    /// The TAXII discovery URL (its default API root is used) or an API root URL.
    pub url: String,
    /// The remote collection: its id or its title.
    pub collection: String,
    /// `none`, `basic`, `token` or `bearer`; a client certificate may come with any of them.
    #[serde(default)]
    pub auth: FeedAuth,
    /// User name for `basic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Name of the environment variable holding the password or token (the configuration file
    /// never holds one; over REST or the UI a `secret` may instead be given, stored encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// PEM file of the CA certificates to trust besides the web roots (in `security.ca_dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) to present, in `security.ca_dir`; needs `client_key_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`, in `security.ca_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<PathBuf>,
    /// Seconds between polls (overrides `poll_interval_secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<u64>,
    /// Only these STIX types (`match[type]`); empty takes every type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// TLP of the indicators made from objects the feed sends without a TLP marking (clear,
    /// green, amber, amber+strict, red); unset: `triage.default_tlp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<String>,
    /// Objects asked for per page (overrides `page_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// False: configured but not polled.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// Triage: indicator defaults, expiry policy, publication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TriageSettings {
    /// Days an Active indicator stays Active after it was activated or last seen, per type
    /// (url, domain, ipv4, ipv6, email, md5, sha1, sha256, sha512, cve); a type not listed never
    /// expires.
    pub expiry_days: std::collections::BTreeMap<String, u32>,
    /// Score (0-100) of a new indicator; published as the STIX `confidence`.
    pub default_score: u8,
    /// TLP of a new event and its new indicators: clear, green, amber, amber+strict or red.
    pub default_tlp: String,
    /// TLP marking definitions emitted: 2 (TLP 2.0) or 1 (TLP 1.0, the STIX spec's own).
    pub tlp_version: u8,
    /// Seconds between checks for Active indicators past their expiry.
    pub expiry_check_secs: u64,
    /// Seconds between reads of what partners POSTed to intake collections.
    pub intake_interval_secs: u64,
    /// Suggested verdicts of new drafts, and the rules that act on them (README "Automatic
    /// triage").
    pub verdicts: VerdictSettings,
}

/// Suggested verdicts of new drafts (`known phish`, `likely phish`, `unknown`, `likely benign`)
/// with their reasons, and the automatic actions on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct VerdictSettings {
    /// Suggest a verdict for every new draft.
    pub enabled: bool,
    /// Brands to protect from lookalike domains and display names: name → the registered
    /// domains that really are the brand, e.g. `paypal = ["paypal.com", "paypal.me"]`. The
    /// organisation's own `organisation.domains` are protected too.
    pub brands: std::collections::BTreeMap<String, Vec<String>>,
    /// The `authserv-id`s written by the organisation's own mail boundary: only their
    /// Authentication-Results are believed (anyone can write that header). Empty: none is.
    pub trusted_authserv_ids: Vec<String>,
    /// Verify DKIM signatures here, asking the DNS server of `operations.nslookup.resolver`
    /// (the system resolver when empty). Without an answer a signature is "unverifiable".
    pub verify_dkim: bool,
    /// A `known phish` draft (its values match an Active indicator or an event, or it is the same
    /// email) joins that event at once, with provenance "automatic: matched indicator X".
    pub auto_join_known_phish: bool,
    /// A `likely benign` draft is closed at once (it can be reopened).
    pub auto_close_likely_benign: bool,
    /// Score (0-100) from which a draft is `likely phish`.
    pub likely_phish_at: i32,
    /// Score (0-100) below which a draft with no sign of phishing is `likely benign`.
    pub likely_benign_below: i32,
}

impl Default for VerdictSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            brands: std::collections::BTreeMap::new(),
            trusted_authserv_ids: Vec::new(),
            verify_dkim: true,
            auto_join_known_phish: true,
            auto_close_likely_benign: false,
            likely_phish_at: 70,
            likely_benign_below: 40,
        }
    }
}

impl Default for TriageSettings {
    fn default() -> Self {
        Self {
            expiry_days: [("ipv4", 30), ("ipv6", 30), ("domain", 90), ("url", 90), ("email", 180)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            default_score: 50,
            default_tlp: "amber".into(),
            tlp_version: 2,
            expiry_check_secs: 300,
            intake_interval_secs: 2,
            verdicts: VerdictSettings::default(),
        }
    }
}

/// The HTTP(S) listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub listen: String,
    /// PEM certificate chain; with `tls_key`, serve HTTPS (TLS 1.2 and 1.3, no 0-RTT).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// The URL users reach Harpoon at, if it differs from the listen address (behind a proxy).
    pub public_url: Option<String>,
    /// Reverse proxies (addresses or CIDR blocks, e.g. `10.0.0.5`, `10.0.0.0/8`, `::1`) whose
    /// `X-Forwarded-For`, `X-Forwarded-Proto` and `Forwarded` headers are believed: the client's
    /// address (audit, throttling) and whether it spoke HTTPS (then Secure `__Host-` cookies and
    /// HSTS). Headers from any other peer are ignored.
    pub trusted_proxies: Vec<String>,
}

/// Where the data is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user@host/db` for PostgreSQL, `sqlite://PATH` or a path for SQLite; unset means
    /// `harpoon.db` in `data_dir`.
    pub url: Option<String>,
    /// Maximum pooled connections.
    pub pool_size: u32,
    /// Seconds to wait for a connection (and to connect to PostgreSQL) before failing.
    pub connect_timeout_secs: u64,
    /// Milliseconds a SQLite writer waits for the lock before failing.
    pub sqlite_busy_timeout_ms: u64,
}

/// No configuration may set `auth.password_min_length` below this.
pub const MIN_PASSWORD_FLOOR: usize = 10;

/// Authentication tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Seconds a verified user+password pair is remembered, so a polling client pays the slow
    /// password hash once rather than on every request. 0 disables the cache.
    pub password_cache_ttl_secs: u64,
    /// Most user+password pairs remembered at once.
    pub password_cache_capacity: usize,
    /// Shortest password accepted (at least 10), not counting the user name where the password
    /// contains it; well-known passwords are refused whatever their length.
    pub password_min_length: usize,
}

/// TAXII 2.1 server limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TaxiiSettings {
    /// Objects per page when the client sends no `limit`.
    pub default_page_size: u32,
    /// Largest page served, whatever `limit` the client asks for.
    pub max_page_size: u32,
    /// Largest POST body accepted, in bytes (advertised as `max_content_length`).
    pub max_content_length: u64,
    /// Hours a status resource is kept after its request.
    pub status_retention_hours: u64,
    /// A POST with more valid objects than this answers at once with a `pending` status and
    /// stores them in the background (durably: a restart resumes the work).
    pub background_threshold: usize,
    /// Title of the discovery resource.
    pub title: String,
    /// Description of the discovery resource.
    pub description: String,
    /// Contact information shown in the discovery resource (empty: none).
    pub contact: String,
    /// The API roots, each served at `/taxii2/{name}/`; the first is the default.
    pub api_roots: Vec<ApiRootSettings>,
    /// Seconds between two additions of the TAXII traffic counts (the dashboard's "served in
    /// the last day") to the database.
    pub served_flush_secs: u64,
}

/// One TAXII API root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiRootSettings {
    /// The path segment under `/taxii2/` (letters, digits, `-`, `_`).
    pub name: String,
    /// Human-readable title.
    pub title: String,
    /// Human-readable description.
    #[serde(default)]
    pub description: String,
}

/// The organisation Harpoon works for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OrganisationSettings {
    /// Name of the STIX `identity` that authors what Harpoon creates.
    pub name: String,
    /// The organisation's own domains: context, never proposed as indicators.
    pub domains: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./harpoon-data"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            taxii: TaxiiSettings::default(),
            organisation: OrganisationSettings::default(),
            triage: TriageSettings::default(),
            imports: ImportSettings::default(),
            connectors: ConnectorSettings::default(),
            operations: OperationsSettings::default(),
            audit: AuditSettings::default(),
            security: SecuritySettings::default(),
            cluster: ClusterSettings::default(),
            subscriptions: SubscriptionSettings::default(),
            extract: ExtractSettings::default(),
            notify: NotifySettings::default(),
            campaigns: CampaignSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            tls_cert: None,
            tls_key: None,
            workers: 0,
            public_url: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: None, pool_size: 16, connect_timeout_secs: 5, sqlite_busy_timeout_ms: 5000 }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self { password_cache_ttl_secs: 60, password_cache_capacity: 1024, password_min_length: 12 }
    }
}

impl Default for TaxiiSettings {
    fn default() -> Self {
        Self {
            default_page_size: 100,
            max_page_size: 1000,
            max_content_length: 100 * 1024 * 1024,
            status_retention_hours: 24,
            background_threshold: 5000,
            title: "Harpoon TAXII 2.1".into(),
            description: "Indicators from reported spear-phish emails".into(),
            contact: String::new(),
            api_roots: vec![ApiRootSettings {
                name: "root".into(),
                title: "Harpoon".into(),
                description: "Harpoon's collections".into(),
            }],
            served_flush_secs: 10,
        }
    }
}

impl Default for OrganisationSettings {
    fn default() -> Self {
        Self { name: "Harpoon".into(), domains: Vec::new() }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SettingsError::Read { path: path.to_path_buf(), source })?;
        Self::from_toml(&text).map_err(|message| SettingsError::Parse { path: path.to_path_buf(), message })
    }

    /// Parses TOML over the defaults; the error is one line.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str::<Settings>(text).map_err(|e| {
            let msg = e.message().to_string();
            match e.span() {
                Some(span) => {
                    let line = text.get(..span.start).map_or(0, |t| t.matches('\n').count()) + 1;
                    format!("line {line}: {msg}")
                }
                None => msg,
            }
        })
    }

    /// Cross-field checks that serde cannot express.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(SettingsError::Invalid("tls_cert and tls_key must be given together".into()));
        }
        let t = &self.taxii;
        if t.default_page_size == 0 || t.max_page_size == 0 || t.default_page_size > t.max_page_size {
            return Err(SettingsError::Invalid(
                "taxii page sizes must be positive and default_page_size <= max_page_size".into(),
            ));
        }
        if t.api_roots.is_empty() {
            return Err(SettingsError::Invalid("taxii.api_roots needs at least one API root".into()));
        }
        for root in &t.api_roots {
            let ok = !root.name.is_empty()
                && root.name.len() <= 64
                && root.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(SettingsError::Invalid(format!(
                    "taxii API root name '{}' must be 1-64 letters, digits, - or _",
                    root.name
                )));
            }
        }
        let rules = self.secret_rules();
        if self.auth.password_min_length < MIN_PASSWORD_FLOOR {
            return Err(SettingsError::Invalid(format!(
                "auth.password_min_length must be at least {}",
                MIN_PASSWORD_FLOOR
            )));
        }
        self.operations.splunk.check(&rules).map_err(SettingsError::Invalid)?;
        let x = &self.extract;
        if x.max_message_bytes == 0 || x.max_decoded_bytes == 0 || x.max_millis == 0 || x.max_parts == 0 {
            return Err(SettingsError::Invalid(
                "extract: max_message_bytes, max_decoded_bytes, max_millis and max_parts must be positive"
                    .into(),
            ));
        }
        if self.database.pool_size == 0 {
            return Err(SettingsError::Invalid("database.pool_size must be at least 1".into()));
        }
        if !(0..=19).contains(&self.imports.nice) {
            return Err(SettingsError::Invalid("imports.nice must be between 0 and 19".into()));
        }
        Ok(())
    }

    /// The secret rules in force (the CA directory defaults to `ca` in the data directory).
    pub fn secret_rules(&self) -> SecretRules {
        let dir = self.security.ca_dir.clone().unwrap_or_else(|| self.data_dir.join("ca"));
        let ca_dir = std::path::absolute(&dir).unwrap_or(dir);
        SecretRules { ca_dir, env_prefix: self.security.secret_env_prefix.clone() }
    }

    /// The database URL in force: the configured one, or `harpoon.db` in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("harpoon.db").display()),
        }
    }

    /// The documented example configuration, generated from the defaults and the doc comments.
    pub fn example_toml() -> String {
        let schema = serde_json::to_value(schemars::schema_for!(Settings)).unwrap_or_default();
        let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
        let mut out = String::from(
            "# Harpoon configuration: every key with its default value.\n\
             # Generated by `harpoon config example`; pass your copy with `--config FILE`.\n\
             # Command-line flags and HARPOON_* environment variables override this file.\n",
        );
        let mut sections = String::new();
        let props = schema.get("properties").and_then(|p| p.as_object());
        for (key, prop) in props.into_iter().flatten() {
            let value = defaults.get(key).unwrap_or(&serde_json::Value::Null);
            match resolve(&schema, prop).and_then(|s| s.get("properties")).and_then(|p| p.as_object()) {
                Some(sub) => section(&schema, key, prop, sub, value, &mut sections),
                None => out.push_str(&format!("\n{}", entry(key, prop, value))),
            }
        }
        out.push_str(&sections);
        out
    }
}

fn resolve<'a>(root: &'a serde_json::Value, prop: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
    let reference = prop
        .get("$ref")
        .or_else(|| prop.get("allOf").and_then(|a| a.get(0)).and_then(|a| a.get("$ref")))
        .and_then(|r| r.as_str())?;
    let name = reference.rsplit('/').next()?;
    root.get("$defs").and_then(|d| d.get(name))
}

/// A `[path]` table: its plain keys, then its sub-tables as `[path.key]`.
fn section(
    root: &serde_json::Value,
    path: &str,
    prop: &serde_json::Value,
    sub: &serde_json::Map<String, serde_json::Value>,
    value: &serde_json::Value,
    out: &mut String,
) {
    out.push_str(&format!("\n{}[{path}]\n", comment(prop)));
    let mut nested = Vec::new();
    for (k, p) in sub {
        let v = value.get(k).unwrap_or(&serde_json::Value::Null);
        match resolve(root, p).and_then(|s| s.get("properties")).and_then(|p| p.as_object()) {
            Some(inner) => nested.push((k, p, inner, v)),
            None => out.push_str(&entry(k, p, v)),
        }
    }
    for (k, p, inner, v) in nested {
        section(root, &format!("{path}.{k}"), p, inner, v, out);
    }
}

fn comment(prop: &serde_json::Value) -> String {
    prop.get("description")
        .and_then(|d| d.as_str())
        .map(|d| d.lines().map(|l| format!("# {}\n", l.trim())).collect())
        .unwrap_or_default()
}

fn entry(key: &str, prop: &serde_json::Value, value: &serde_json::Value) -> String {
    let doc = comment(prop);
    if value.is_null() {
        return format!("{doc}# {key} = (not set)\n");
    }
    let rendered = toml::Value::try_from(value).map(|v| v.to_string()).unwrap_or_else(|_| value.to_string());
    format!("{doc}{key} = {rendered}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_back_to_the_defaults() {
        let example = Settings::example_toml();
        let parsed = Settings::from_toml(&example).expect("example parses");
        assert_eq!(parsed, Settings::default());
        assert!(example.contains("[taxii]") && example.contains("max_page_size = 1000"));
        assert!(example.contains("# tls_cert = (not set)"));
    }

    #[test]
    fn every_field_is_documented() {
        let example = Settings::example_toml();
        let mut previous = "";
        for line in example.lines() {
            let is_entry = !line.starts_with('#') && !line.starts_with('[') && line.contains(" = ");
            let is_unset = line.starts_with("# ") && line.ends_with("= (not set)");
            if is_entry || is_unset {
                assert!(
                    previous.starts_with("# ") && !previous.ends_with("(not set)"),
                    "undocumented: {line}"
                );
            }
            previous = line;
        }
    }

    #[test]
    fn unknown_keys_are_rejected_with_a_line_number() {
        let err =
            Settings::from_toml("[server]\nlisten = \"0.0.0.0:1\"\nlistne = 3\n").expect_err("unknown key");
        assert!(err.starts_with("line 3:"), "{err}");
        assert!(err.contains("listne"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn secrets_come_from_where_they_are_allowed() {
        let mut s = Settings { data_dir: "/srv/harpoon".into(), ..Settings::default() };
        let rules = s.secret_rules();
        assert_eq!(rules.ca_dir, PathBuf::from("/srv/harpoon/ca"));
        assert_eq!(rules.ca_path(Path::new("corp.pem")), Ok(PathBuf::from("/srv/harpoon/ca/corp.pem")));
        assert!(rules.ca_path(Path::new("/srv/harpoon/ca/sub/corp.pem")).is_ok());
        assert!(rules.ca_path(Path::new("/etc/ssl/private/key.pem")).unwrap_err().contains("outside"));
        assert!(rules.ca_path(Path::new("../harpoon.db")).unwrap_err().contains("'..'"));
        assert!(rules.ca_path(Path::new("/srv/harpoon/ca/../harpoon.db")).is_err());
        assert!(rules.check_env("password_env", "HARPOON_SECRET_IMAP").is_ok());
        assert!(
            rules.check_env("password_env", "AWS_SECRET_ACCESS_KEY").unwrap_err().contains("HARPOON_SECRET_")
        );
        assert!(rules.check_env("password_env", "A B").is_err());
        s.operations.splunk.url = "http://splunk.example.org:8089".into();
        assert!(s.validate().unwrap_err().to_string().contains("https://"));
        s.operations.splunk.url = "https://splunk.example.org:8089".into();
        s.operations.splunk.token_env = "HOME".into();
        assert!(s.validate().is_err());
        s.operations.splunk.token_env = "HARPOON_SECRET_SPLUNK".into();
        assert!(s.validate().is_ok());
        s.auth.password_min_length = 8;
        assert!(s.validate().is_err());
    }

    #[test]
    fn ca_files_cannot_leave_their_directory_through_a_link() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = dir.path().join("ca");
        std::fs::create_dir(&ca).expect("mkdir");
        std::fs::write(ca.join("good.pem"), "x").expect("write");
        std::fs::write(dir.path().join("secret.pem"), "x").expect("write");
        let rules = SecretRules { ca_dir: ca.clone(), env_prefix: "P_".into() };
        assert!(rules.ca_file(Path::new("good.pem")).is_ok());
        assert!(rules.ca_file(Path::new("missing.pem")).unwrap_err().contains("cannot read"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.pem"), ca.join("link.pem")).expect("link");
            assert!(rules.ca_file(Path::new("link.pem")).unwrap_err().contains("symbolic link"));
        }
    }

    #[test]
    fn tls_needs_both_halves() {
        let mut s = Settings::default();
        s.server.tls_cert = Some("c.pem".into());
        assert!(s.validate().is_err());
        s.server.tls_key = Some("k.pem".into());
        assert!(s.validate().is_ok());
    }
}
