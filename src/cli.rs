//! The command line: parses arguments, resolves settings (defaults < config file < environment
//! < flags) and dispatches. `anyhow` is used here; every failure ends as one `error:` line and a
//! non-zero exit.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::db::{Db, collections, tokens, users};
use crate::service::accounts::{self, PasswordPolicy, Role};
use crate::service::collections::CollectionSpec;
use crate::settings::Settings;
use crate::startup;

#[derive(Debug, Parser)]
#[command(name = "harpoon", version, about = "Spear-phish emails in, STIX 2.1 over TAXII 2.1 out")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts; each falls back to an environment variable.
#[derive(Debug, Args, Default)]
pub struct GlobalArgs {
    /// TOML configuration file (see `harpoon config example`).
    #[arg(long, global = true, env = "HARPOON_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: postgres://… or sqlite://PATH [default: sqlite in the data directory].
    #[arg(long, global = true, env = "HARPOON_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for local state [default: ./harpoon-data].
    #[arg(long, global = true, env = "HARPOON_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "HARPOON_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// PEM certificate chain: serve HTTPS (needs --tls-key).
    #[arg(long, global = true, env = "HARPOON_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, global = true, env = "HARPOON_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (web UI, REST API, TAXII 2.1).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent copy of the whole database to FILE while the server keeps running
    /// (SQLite: `VACUUM INTO`, checked; PostgreSQL: `pg_dump --format=custom` of the schema).
    Backup { file: std::path::PathBuf },
    /// Restore a backup into the configured database, which must be new and empty (never over
    /// live data), then migrate it.
    Restore { file: std::path::PathBuf },
    /// Parse emails (.eml, .msg, mbox, pasted text) and print what was found. Never touches the
    /// database; exits non-zero only for unreadable input.
    Extract {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// stix: a STIX 2.1 bundle; table: for people; json: the full extraction with spans.
        #[arg(long, default_value = "stix", value_parser = ["stix", "table", "json"])]
        format: String,
        /// The organisation's own domains (context, never proposed); adds to the configured ones.
        #[arg(long = "own-domain", value_name = "DOMAIN")]
        own_domains: Vec<String>,
    },
    /// Import emails (.eml, .msg, mbox; files or directories, recursively) as drafts, or
    /// commit them into events at once with --commit. One bad message never stops the batch.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Commit each draft into a spear-phish event (the same phish joins its event).
        #[arg(long)]
        commit: bool,
        /// Where the emails came from, recorded on each import and as the indicators' source.
        #[arg(long, default_value = "cli")]
        source: String,
        /// Parallel workers (0: one per CPU core).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
    },
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage TAXII collections.
    #[command(subcommand)]
    Collection(CollectionCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. Without a password option, one is generated and printed once.
    Add {
        name: String,
        /// `partner`: another organisation, reaching its granted TAXII collections only.
        #[arg(long, value_parser = ["admin", "analyst", "reader", "partner"])]
        role: String,
        /// The password (visible in the process list: prefer --password-stdin).
        #[arg(long, conflicts_with = "password_stdin", hide_env_values = true)]
        password: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account: its logins, tokens and UI sessions stop (other running instances:
    /// within 5 seconds).
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
    /// Set a new password for an account (an administrator's reset). Without
    /// --password-stdin, one is generated and printed once.
    ResetPassword {
        name: String,
        /// Read the new password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change an account's role.
    SetRole {
        name: String,
        /// The new role (admin, analyst, reader, …).
        role: String,
    },
    /// Delete an account: its tokens, grants and sessions go; imports, events and the audit log
    /// keep its name.
    Delete { name: String },
    /// Change one's own password: reads the current password, then the new one, one a line, from
    /// standard input.
    Passwd { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue an API token for USER and print it once.
    Create {
        user: String,
        #[arg(long, default_value = "")]
        label: String,
        /// `all` (what the user's role allows), `intake` (only push emails) or `export` (only
        /// read the feeds named by --exports) or `metrics` (only `GET /metrics`).
        #[arg(long, default_value = "all", value_parser = ["all", "intake", "export", "metrics"])]
        scope: String,
        /// The exports an `export` token may read (comma-separated names).
        #[arg(long, value_delimiter = ',')]
        exports: Vec<String>,
        /// Expiry from now: a number with a unit, `30m`, `12h`, `90d` (default: none).
        #[arg(long, value_parser = parse_expires_in)]
        expires_in: Option<i64>,
    },
    /// Revoke the token with this id.
    Revoke { id: i64 },
    /// List tokens (of one user, or all).
    List {
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CollectionCommand {
    /// Create a TAXII collection and print its id.
    Add {
        title: String,
        #[arg(long)]
        alias: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Anyone, even unauthenticated, may read it.
        #[arg(long)]
        public_read: bool,
        /// Users who may read it (comma-separated).
        #[arg(long, value_delimiter = ',')]
        read: Vec<String>,
        /// Users who may read and write it (comma-separated).
        #[arg(long, value_delimiter = ',')]
        write: Vec<String>,
        /// The TAXII API root it belongs to.
        #[arg(long, default_value = crate::service::collections::DEFAULT_API_ROOT)]
        api_root: String,
        /// Its TLP ceiling: nothing above it is stored, published or served
        /// (clear, green, amber, amber+strict, red).
        #[arg(long, default_value = "amber")]
        max_tlp: String,
        /// Events may be shared to it (within the ceiling).
        #[arg(long)]
        share_target: bool,
    },
    /// Change a collection's TLP ceiling (lowering it stops serving what is above it at once).
    SetTlp {
        /// The collection's id or alias.
        collection: String,
        /// clear, green, amber, amber+strict or red.
        max_tlp: String,
        /// Whether events may be shared to it (unchanged when not given).
        #[arg(long)]
        share_target: Option<bool>,
    },
    /// List collections.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a documented configuration file with every default.
    Example,
    /// Print the configuration in force (file, environment and flags applied).
    Show,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{e:#}");
            eprintln!("error: {}", message.split_whitespace().collect::<Vec<_>>().join(" "));
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    // Per-request access events (`harpoon::access`) only when the filter names them.
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARPOON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,harpoon=info,harpoon::access=off"));
    if std::env::var("HARPOON_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        // One JSON object per line, the request's span (with its request id) included.
        let _ = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(crate::logging::EscapingStderr)
            .try_init();
    } else {
        // ANSI colours off: the writer escapes control characters, so colour codes would show raw.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(crate::logging::EscapingStderr)
            .try_init();
    }
}

/// Resolves settings: defaults, then the config file, then environment and flags.
pub fn resolve_settings(global: &GlobalArgs) -> anyhow::Result<Settings> {
    let mut settings = match &global.config {
        Some(path) => Settings::from_file(path)?,
        None => Settings::default(),
    };
    if let Some(dir) = &global.data_dir {
        settings.data_dir = dir.clone();
    }
    if let Some(url) = &global.database_url {
        settings.database.url = Some(url.clone());
    }
    if let Some(listen) = &global.listen {
        settings.server.listen = listen.clone();
    }
    if let Some(cert) = &global.tls_cert {
        settings.server.tls_cert = Some(cert.clone());
    }
    if let Some(key) = &global.tls_key {
        settings.server.tls_key = Some(key.clone());
    }
    startup::validate(&settings)?;
    Ok(settings)
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Config(ConfigCommand::Example) = cli.command {
        print!("{}", Settings::example_toml());
        return Ok(());
    }
    let settings = resolve_settings(&cli.global)?;
    match cli.command {
        Command::Config(ConfigCommand::Example) => Ok(()),
        Command::Config(ConfigCommand::Show) => {
            print!("{}", toml::to_string_pretty(&settings).context("cannot render settings")?);
            Ok(())
        }
        Command::Serve => startup::serve(settings),
        Command::Extract { files, format, own_domains } => extract(&settings, &files, &format, &own_domains),
        Command::Migrate => {
            let db = startup::open_database(&settings)?;
            drop(db);
            println!("database is up to date");
            Ok(())
        }
        Command::Backup { file } => {
            let url = crate::db::DatabaseUrl::parse(&settings.database_url())?;
            let db = startup::open_database(&settings)?;
            let report = crate::db::backup::backup(&mut *db.conn()?, &url, &file)?;
            println!("backup written: {} ({} bytes)", report.path.display(), report.bytes);
            Ok(())
        }
        Command::Restore { file } => {
            let url = crate::db::DatabaseUrl::parse(&settings.database_url())?;
            crate::db::backup::restore(&url, &file)?;
            // A backup from an older version is brought up to date.
            drop(startup::open_database(&settings)?);
            println!("restored {} into {}", file.display(), url.redacted());
            Ok(())
        }
        Command::Import { files, commit, source, jobs } => {
            import(&settings, &startup::open_database(&settings)?, &files, commit, &source, jobs)
        }
        Command::User(cmd) => user(cmd, &startup::open_database(&settings)?, &settings),
        Command::Token(cmd) => token(cmd, &startup::open_database(&settings)?),
        Command::Collection(cmd) => collection(cmd, &startup::open_database(&settings)?),
    }
}

/// Every regular file under the given paths, directories walked recursively in name order.
fn files_under(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(String, String)>) {
    let mut files = Vec::new();
    let mut failed = Vec::new();
    let mut stack: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(entries) => {
                    let mut children: Vec<PathBuf> =
                        entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                    children.sort();
                    stack.extend(children.into_iter().rev());
                }
                Err(e) => failed.push((path.display().to_string(), format!("cannot read directory: {e}"))),
            }
        } else if path.is_file() {
            files.push(path);
        } else {
            failed.push((path.display().to_string(), "no such file".into()));
        }
    }
    (files, failed)
}

fn import(
    settings: &Settings,
    db: &crate::db::Db,
    paths: &[PathBuf],
    commit: bool,
    source: &str,
    jobs: usize,
) -> anyhow::Result<()> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::service::imports::pipeline::Then;

    let ctx = startup::triage_context(db, settings)?;
    let then = Then { commit_as: commit.then(|| "cli".to_string()), keep_refused: false };
    let (files, mut failed) = files_under(paths);
    let jobs =
        if jobs == 0 { std::thread::available_parallelism().map(usize::from).unwrap_or(2) } else { jobs };
    let progress = Progress::new(files.len());
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let name = path.display().to_string();
                    let outcome = import_file(db, &ctx, &then, source, &name, path, &tally);
                    progress.report(&name, &outcome);
                }
            });
        }
    });
    progress.finish();
    let tally = tally.into_inner().unwrap_or_default();
    failed.extend(tally.failures);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {}, duplicates {}{}, failed {} ({} files in {secs:.1} s)",
        tally.imported,
        tally.duplicates,
        if commit {
            format!(", committed {} ({} joined an existing event)", tally.committed, tally.merged)
        } else {
            String::new()
        },
        failed.len(),
        files.len()
    );
    for (name, why) in &failed {
        println!("  failed: {name}: {why}");
    }
    if failed.is_empty() { Ok(()) } else { anyhow::bail!("{} of the inputs failed", failed.len()) }
}

/// What a CLI import counted, shared by its worker threads.
#[derive(Default)]
struct Tally {
    imported: usize,
    duplicates: usize,
    committed: usize,
    /// Of the committed, how many joined an existing event.
    merged: usize,
    failures: Vec<(String, String)>,
}

/// One line per file, or a bar on a terminal.
struct Progress {
    terminal: bool,
    total: usize,
    done: std::sync::atomic::AtomicUsize,
}

impl Progress {
    fn new(total: usize) -> Self {
        use std::io::IsTerminal;
        Self { terminal: std::io::stderr().is_terminal(), total, done: Default::default() }
    }

    fn report(&self, name: &str, outcome: &str) {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let total = self.total;
        if self.terminal {
            let width = 30;
            let filled = (n * width).checked_div(total).unwrap_or(width).min(width);
            eprint!("\r[{}{}] {n}/{total} files", "#".repeat(filled), " ".repeat(width - filled));
        } else {
            eprintln!("{n}/{total} {name}: {outcome}");
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

/// Imports every message of one file (an mbox holds several); what became of the last.
fn import_file(
    db: &crate::db::Db,
    ctx: &crate::service::ServiceContext,
    then: &crate::service::imports::pipeline::Then,
    source: &str,
    name: &str,
    path: &std::path::Path,
    tally: &std::sync::Mutex<Tally>,
) -> String {
    use crate::service::imports::pipeline;
    use crate::service::imports::{EventMeta, ImportRequest};

    let fail = |label: String, why: String| {
        tally.lock().map(|mut t| t.failures.push((label, why))).ok();
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            fail(name.to_owned(), format!("cannot read: {e}"));
            return "unreadable".into();
        }
    };
    let mut outcome = String::new();
    for (label, raw) in pipeline::messages_in(name, bytes) {
        let request = ImportRequest {
            raw,
            source: source.to_string(),
            source_metadata: Some(serde_json::json!({ "file": label })),
            actor: Some("cli".into()),
            meta: EventMeta::default(),
        };
        let result = pipeline::run_one(db, ctx, request, then).and_then(|o| {
            let merged = o.committed.transpose()?.map(|c| c.merged);
            Ok((o.imported, merged))
        });
        outcome = match result {
            Ok((imported, merged)) => {
                if let Ok(mut t) = tally.lock() {
                    if imported.created {
                        t.imported += 1;
                    } else {
                        t.duplicates += 1;
                    }
                    if let Some(m) = merged {
                        t.committed += 1;
                        t.merged += usize::from(m);
                    }
                }
                if imported.row.state == crate::service::imports::ImportState::Failed {
                    fail(label.clone(), imported.row.error.clone().unwrap_or_default());
                }
                if imported.created {
                    format!("import {}", imported.row.id)
                } else {
                    format!("duplicate of import {}", imported.row.id)
                }
            }
            Err(e) => {
                let outcome = format!("failed: {e}");
                fail(label, e.to_string());
                outcome
            }
        };
    }
    outcome
}

fn extract(
    settings: &Settings,
    files: &[PathBuf],
    format: &str,
    own_domains: &[String],
) -> anyhow::Result<()> {
    use crate::extract::{self, InputKind};
    let domains: Vec<&str> =
        settings.organisation.domains.iter().chain(own_domains).map(String::as_str).collect();
    let options = settings.extract.options(&domains, &[]);
    let mut unreadable = Vec::new();
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for path in files {
        match std::fs::read(path) {
            Ok(bytes) => inputs.push((path.display().to_string(), bytes)),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                unreadable.push(path.display().to_string());
            }
        }
    }
    // An mbox holds many messages: each is its own extraction.
    let mut messages: Vec<(String, &[u8])> = Vec::new();
    for (name, bytes) in &inputs {
        if extract::detect_input(bytes) == InputKind::Mbox {
            for (i, m) in extract::split_mbox(bytes).into_iter().enumerate() {
                messages.push((format!("{name}#{}", i + 1), m));
            }
        } else {
            messages.push((name.clone(), bytes));
        }
    }
    let extractions: Vec<(String, &[u8], extract::Extraction)> =
        messages.into_iter().map(|(name, raw)| (name, raw, extract::extract(raw, &options))).collect();
    let mut out = std::io::stdout().lock();
    match format {
        "json" => {
            let all: Vec<serde_json::Value> = extractions
                .iter()
                .map(|(name, _, x)| serde_json::json!({ "input": name, "extraction": x }))
                .collect();
            serde_json::to_writer_pretty(&mut out, &all)?;
            writeln!(out)?;
        }
        "table" => {
            for (name, _, x) in &extractions {
                print_table(&mut out, name, x)?;
            }
        }
        _ => {
            let pairs: Vec<(&[u8], &extract::Extraction)> =
                extractions.iter().map(|(_, raw, x)| (*raw, x)).collect();
            let (bundle, skipped) = extract::bundle::to_bundle(&pairs)?;
            for s in skipped {
                eprintln!("note: {} left out of the bundle: {}", s.what, s.why);
            }
            serde_json::to_writer_pretty(&mut out, &bundle)?;
            writeln!(out)?;
        }
    }
    if !unreadable.is_empty() {
        bail!("{} input(s) could not be read: {}", unreadable.len(), unreadable.join(", "));
    }
    Ok(())
}

fn print_table(out: &mut impl Write, name: &str, x: &crate::extract::Extraction) -> anyhow::Result<()> {
    writeln!(out, "== {name} ({:?})", x.input)?;
    if let Some(m) = x.reported() {
        let from = m.from.first().and_then(|f| f.address.clone()).unwrap_or_default();
        writeln!(out, "subject: {}", m.subject.as_deref().unwrap_or("(none)"))?;
        writeln!(out, "from:    {from}")?;
    }
    writeln!(out, "{:<8} {:<64} {:<6} STATUS", "TYPE", "VALUE", "SEEN")?;
    for o in &x.observables {
        let status = match &o.whitelisted {
            Some(reason) => format!("whitelisted ({reason:?})"),
            None => "proposed".to_string(),
        };
        let mut value = o.indicator.value.clone();
        if o.defanged {
            value.push_str(" [defanged]");
        }
        writeln!(out, "{:<8} {:<64} {:<6} {status}", o.indicator.kind.as_str(), value, o.occurrences)?;
    }
    for a in &x.attachments {
        writeln!(
            out,
            "attachment: {} ({}, {} bytes) sha256 {}",
            a.name.as_deref().unwrap_or("(unnamed)"),
            a.mime_type.as_deref().unwrap_or("?"),
            a.size,
            a.hashes.sha256
        )?;
    }
    for w in &x.warnings {
        writeln!(out, "warning: {:?}: {}", w.kind, w.detail)?;
    }
    writeln!(out)?;
    Ok(())
}

fn read_password_stdin() -> anyhow::Result<String> {
    read_password_line(&mut std::io::stdin().lock())
}

fn read_password_line(input: &mut impl BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    input.read_line(&mut line).context("cannot read the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

/// One administrator's change of an account (from the CLI, audited as `cli`).
fn change(
    conn: &mut crate::db::DbConn,
    name: &str,
    change: accounts::AccountChange,
    policy: &PasswordPolicy,
) -> anyhow::Result<()> {
    let changed = accounts::change_account(conn, name, &change, policy, "cli")?;
    println!(
        "user '{}' updated ({}, role {}); {} UI session(s) ended; running servers stop accepting its old credentials within 5 seconds",
        changed.user.username,
        if changed.user.disabled { "disabled" } else { "active" },
        changed.user.role,
        changed.sessions_ended
    );
    Ok(())
}

fn user(cmd: UserCommand, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let mut conn = db.conn()?;
    let policy = crate::service::accounts::PasswordPolicy::configured(settings);
    match cmd {
        UserCommand::Add { name, role, password, password_stdin } => {
            let role = Role::parse(&role)?;
            let (password, generated) = match (password, password_stdin) {
                (Some(p), _) => (p, false),
                (None, true) => (read_password_stdin()?, false),
                (None, false) => (accounts::generate_password(), true),
            };
            let user = accounts::create_user(&mut conn, &name, role, &password, &policy, Some("cli"))?;
            println!("created user '{}' (id {}, role {role})", user.username, user.id);
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            let rows = users::list(&mut conn)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<6} {:<32} {:<8} {:<8}", "ID", "USERNAME", "ROLE", "STATUS")?;
            for u in rows {
                let status = if u.disabled { "disabled" } else { "active" };
                writeln!(out, "{:<6} {:<32} {:<8} {:<8}", u.id, u.username, u.role, status)?;
            }
        }
        UserCommand::Disable { name } => {
            change(
                &mut conn,
                &name,
                accounts::AccountChange { disabled: Some(true), ..Default::default() },
                &policy,
            )?;
        }
        UserCommand::Enable { name } => {
            change(
                &mut conn,
                &name,
                accounts::AccountChange { disabled: Some(false), ..Default::default() },
                &policy,
            )?;
        }
        UserCommand::SetRole { name, role } => {
            let role = Role::parse(&role)?;
            change(
                &mut conn,
                &name,
                accounts::AccountChange { role: Some(role), ..Default::default() },
                &policy,
            )?;
        }
        UserCommand::ResetPassword { name, password_stdin } => {
            let (password, generated) = if password_stdin {
                (read_password_stdin()?, false)
            } else {
                (accounts::generate_password(), true)
            };
            let reset = accounts::AccountChange { password: Some(password.clone()), ..Default::default() };
            change(&mut conn, &name, reset, &policy)?;
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Delete { name } => {
            let user = accounts::delete_user(&mut conn, &name, "cli")?;
            println!("user '{}' deleted (its tokens, grants and sessions with it)", user.username);
        }
        UserCommand::Passwd { name } => {
            let mut input = std::io::stdin().lock();
            let current = read_password_line(&mut input)?;
            let new = read_password_line(&mut input)?;
            let user =
                users::by_name(&mut conn, &name)?.with_context(|| format!("no user named '{name}'"))?;
            if !accounts::verify_password(&current, &user.password_hash) {
                crate::db::audit::insert(
                    &mut conn,
                    &crate::db::audit::AuditEntry::new("auth.failure")
                        .actor("cli")
                        .target(&user.username)
                        .detail("wrong current password (user passwd)"),
                )?;
                bail!("the current password is wrong");
            }
            accounts::change_own_password(&mut conn, user.id, &current, &new, &policy)?;
            println!("password of '{}' changed", user.username);
        }
    }
    Ok(())
}

fn token(cmd: TokenCommand, db: &Db) -> anyhow::Result<()> {
    let mut conn = db.conn()?;
    match cmd {
        TokenCommand::Create { user, label, scope, exports, expires_in } => {
            let owner =
                users::by_name(&mut conn, &user)?.with_context(|| format!("no user named '{user}'"))?;
            let request = accounts::TokenRequest {
                label,
                scope: accounts::TokenScope::parse(&scope)?,
                exports,
                expires_at: expires_in.map(|micros| crate::db::now_micros().saturating_add(micros)),
            };
            let issued = accounts::issue_token(&mut conn, &accounts::Issuer::cli(), &owner, &request)?;
            // The token alone on stdout, so scripts can capture it; the advice on stderr.
            println!("{}", issued.token);
            eprintln!("token {} for '{}' created; it is not shown again", issued.row.id, owner.username);
        }
        TokenCommand::Revoke { id } => {
            accounts::revoke_token(&mut conn, id, "cli")?;
            println!("token {id} revoked");
        }
        TokenCommand::List { user } => {
            let uid = match user {
                Some(name) => Some(
                    users::by_name(&mut conn, &name)?.with_context(|| format!("no user named '{name}'"))?.id,
                ),
                None => None,
            };
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:<6} {:<8} {:<24} {:<8} {:<28} {:<28} SCOPE",
                "ID", "USER_ID", "LABEL", "STATUS", "EXPIRES", "LAST_USED"
            )?;
            let now = crate::db::now_micros();
            let at = |t: Option<i64>| t.map(crate::api::micros_to_rfc3339).unwrap_or_else(|| "-".into());
            for t in tokens::list(&mut conn, uid)? {
                let status = match (t.revoked_at, t.expires_at) {
                    (Some(_), _) => "revoked",
                    (None, Some(e)) if e <= now => "expired",
                    _ => "live",
                };
                let names = accounts::token_exports(&t).unwrap_or_default();
                let scope = if names.is_empty() {
                    t.scopes.clone()
                } else {
                    format!("{}:{}", t.scopes, names.join(","))
                };
                writeln!(
                    out,
                    "{:<6} {:<8} {:<24} {:<8} {:<28} {:<28} {scope}",
                    t.id,
                    t.user_id,
                    t.label,
                    status,
                    at(t.expires_at),
                    at(t.last_used_at)
                )?;
            }
        }
    }
    Ok(())
}

fn collection(cmd: CollectionCommand, db: &Db) -> anyhow::Result<()> {
    let mut conn = db.conn()?;
    match cmd {
        CollectionCommand::Add {
            title,
            alias,
            description,
            public_read,
            read,
            write,
            api_root,
            max_tlp,
            share_target,
        } => {
            let spec = CollectionSpec {
                title,
                alias,
                description,
                public_read,
                readers: read,
                writers: write,
                api_root,
                max_tlp: Some(max_tlp),
                share_target,
                ..CollectionSpec::default()
            };
            let row = crate::service::collections::create(&mut conn, &spec)?;
            println!("{}", row.id);
        }
        CollectionCommand::SetTlp { collection, max_tlp, share_target } => {
            let row = crate::service::collections::set_tlp(
                &mut conn,
                &collection,
                Some(&max_tlp),
                share_target,
                "cli",
            )?;
            println!("{}: max TLP {}", row.id, crate::service::tlp::ceiling(&row).level());
        }
        CollectionCommand::List => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<36}  {:<16} {:<6} {:<12} TITLE", "ID", "ALIAS", "PUBLIC", "MAX TLP")?;
            for c in collections::list(&mut conn)? {
                let public = if c.public_read { "yes" } else { "no" };
                let tlp = crate::service::tlp::ceiling(&c).level();
                let alias = c.alias.unwrap_or_default();
                writeln!(out, "{:<36}  {:<16} {:<6} {:<12} {}", c.id, alias, public, tlp, c.title)?;
            }
        }
    }
    Ok(())
}

/// `--expires-in`: `30m`, `12h`, `90d`, `2w` → microseconds.
fn parse_expires_in(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 =
        number.parse().map_err(|_| format!("'{text}': expected a number and a unit (m, h, d, w)"))?;
    let unit_secs = match unit {
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("'{text}': the unit is m, h, d or w")),
    };
    n.checked_mul(unit_secs)
        .and_then(|s| s.checked_mul(1_000_000))
        .filter(|m| *m > 0)
        .ok_or_else(|| format!("'{text}': out of range"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn expires_in_takes_a_number_and_a_unit() {
        assert_eq!(super::parse_expires_in("30m"), Ok(30 * 60 * 1_000_000));
        assert_eq!(super::parse_expires_in("90d"), Ok(90 * 86_400 * 1_000_000));
        assert!(super::parse_expires_in("0d").is_err());
        assert!(super::parse_expires_in("12").is_err());
        assert!(super::parse_expires_in("d").is_err());
        assert!(super::parse_expires_in("9999999999999w").is_err());
    }
}
