//! The IMAP connector over `async-imap` (tokio): TLS (implicit or STARTTLS), LOGIN, SELECT the
//! folder, take every message not yet processed (one at a time: bounded memory), store it, then
//! mark it (flag, move or delete), and wait with IDLE for the next (or return, to be polled).
//!
//! Which messages wait: with `after = "flag"` those without the flag; with `move` or `delete`
//! every message in the folder (processed ones left it). Deleted-flagged messages never count.

use std::collections::HashSet;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::{Flag, UnsolicitedResponse};
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{ConnectorError, Worker, after_of, port_of, tls};
use crate::db::connectors as store;
use crate::settings::{AfterImport, MailTls};

type Stream = TlsStream<TcpStream>;

/// The flag marking a processed message: a system flag the server always keeps, or a keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessedFlag {
    Seen,
    Flagged,
    Answered,
    Keyword(String),
}

impl ProcessedFlag {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "\\seen" => Ok(Self::Seen),
            "\\flagged" => Ok(Self::Flagged),
            "\\answered" => Ok(Self::Answered),
            _ if text.starts_with('\\') => {
                Err(format!("flag '{text}': only \\Seen, \\Flagged, \\Answered or a keyword"))
            }
            _ => {
                let ok = !text.is_empty()
                    && text.len() <= 64
                    && text.chars().all(|c| c.is_ascii_alphanumeric() || "$_-.".contains(c));
                if ok {
                    Ok(Self::Keyword(text.to_string()))
                } else {
                    Err(format!("flag '{}': a keyword is 1-64 letters, digits, $ _ - .", text.escape_debug()))
                }
            }
        }
    }

    /// As written in STORE.
    fn store_text(&self) -> String {
        match self {
            Self::Seen => "\\Seen".into(),
            Self::Flagged => "\\Flagged".into(),
            Self::Answered => "\\Answered".into(),
            Self::Keyword(k) => k.clone(),
        }
    }

    /// The SEARCH key of the messages without it.
    fn search_without(&self) -> String {
        match self {
            Self::Seen => "UNSEEN".into(),
            Self::Flagged => "UNFLAGGED".into(),
            Self::Answered => "UNANSWERED".into(),
            Self::Keyword(k) => format!("UNKEYWORD {k}"),
        }
    }
}

/// Awaits `fut` within `t`; an IMAP error becomes `wrap(text)`.
async fn timed<T>(
    t: Duration,
    what: &str,
    fut: impl Future<Output = async_imap::error::Result<T>>,
) -> Result<T, ConnectorError> {
    match tokio::time::timeout(t, fut).await {
        Err(_) => Err(ConnectorError::Timeout(format!("{what}: no answer within {}s", t.as_secs()))),
        Ok(Err(e)) => Err(imap_error(what, e)),
        Ok(Ok(v)) => Ok(v),
    }
}

fn imap_error(what: &str, e: async_imap::error::Error) -> ConnectorError {
    use async_imap::error::Error;
    match e {
        Error::Io(e) => ConnectorError::Connect(format!("{what}: connection lost: {e}")),
        Error::ConnectionLost => ConnectorError::Connect(format!("{what}: connection lost")),
        Error::No(m) | Error::Bad(m) => ConnectorError::Protocol(format!("{what}: the server said: {m}")),
        other => ConnectorError::Protocol(format!("{what}: {other}")),
    }
}

async fn greeting<S>(client: &mut Client<S>, t: Duration) -> Result<(), ConnectorError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    match tokio::time::timeout(t, client.read_response()).await {
        Err(_) => Err(ConnectorError::Timeout("no IMAP greeting".into())),
        Ok(Err(e)) => Err(ConnectorError::Connect(format!("reading the greeting: {e}"))),
        Ok(Ok(None)) => Err(ConnectorError::Connect("the server closed the connection at once".into())),
        Ok(Ok(Some(_))) => Ok(()),
    }
}

/// Connects, upgrades to TLS and logs in.
async fn open(w: &Worker) -> Result<Session<Stream>, ConnectorError> {
    let cfg = &w.cfg;
    let t = w.opts.timeout;
    let tls_config = w.tls_config()?;
    let tcp = tls::connect_tcp(&cfg.host, port_of(cfg), t).await?;
    let client = match cfg.tls {
        MailTls::Implicit => {
            let mut client = Client::new(tls::handshake(tls_config, &cfg.host, tcp, t).await?);
            greeting(&mut client, t).await?;
            client
        }
        MailTls::Starttls => {
            let mut plain = Client::new(tcp);
            greeting(&mut plain, t).await?;
            timed(t, "STARTTLS", plain.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|e| ConnectorError::Tls(format!("the server refused STARTTLS ({e})")))?;
            // Whatever the server sent before the handshake is dropped with the plain client.
            Client::new(tls::handshake(tls_config, &cfg.host, plain.into_inner(), t).await?)
        }
    };
    let password = w.password()?;
    match tokio::time::timeout(t, client.login(&cfg.username, &password)).await {
        Err(_) => Err(ConnectorError::Timeout("LOGIN: no answer".into())),
        Ok(Err((async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m), _))) => {
            Err(ConnectorError::Auth(m))
        }
        // Never the error's own text: it could quote the offending character of the password.
        Ok(Err((async_imap::error::Error::Validate(_), _))) => {
            Err(ConnectorError::Config("the user name or password holds a character IMAP cannot send".into()))
        }
        Ok(Err((e, _))) => Err(imap_error("LOGIN", e)),
        Ok(Ok(session)) => Ok(session),
    }
}

/// One IMAP session: runs until the connection fails when the folder is watched with IDLE;
/// returns after one pass otherwise (the caller polls).
pub(crate) async fn session(w: &Worker) -> Result<(), ConnectorError> {
    let cfg = &w.cfg;
    let t = w.opts.timeout;
    let mut session = open(w).await?;
    let caps = timed(t, "CAPABILITY", session.capabilities()).await?;
    let can_idle = caps.has_str("IDLE");
    let can_move = caps.has_str("MOVE");
    let uidplus = caps.has_str("UIDPLUS");
    let after = after_of(cfg);
    let flag = ProcessedFlag::parse(&cfg.flag).map_err(ConnectorError::Config)?;
    if let (AfterImport::Move, Some(target)) = (after, &cfg.move_to) {
        // Already there is the usual answer: a NO here is not an error, a missing folder shows
        // up at the first move.
        let _ = timed(t, "CREATE", session.create(target)).await;
    }
    let mailbox = timed(t, "SELECT", session.select(&cfg.folder)).await?;
    if after == AfterImport::Flag
        && matches!(flag, ProcessedFlag::Keyword(_))
        && !mailbox.permanent_flags.iter().any(|f| matches!(f, Flag::MayCreate | Flag::Custom(_)))
    {
        return Err(ConnectorError::Config(format!(
            "{} does not keep keywords: use a system flag (\\Seen) or after = \"move\"",
            cfg.folder
        )));
    }
    let validity = i64::from(
        mailbox.uid_validity.ok_or_else(|| ConnectorError::Protocol("SELECT gave no UIDVALIDITY".into()))?,
    );
    let id = w.id;
    if w.db.run(move |conn| store::set_uid_validity(conn, id, validity)).await? {
        tracing::warn!(connector = %cfg.name, "UIDVALIDITY changed: the folder's UIDs were reset");
    }
    let query = match after {
        AfterImport::Flag => format!("UNDELETED {}", flag.search_without()),
        _ => "UNDELETED".into(),
    };
    let limit = w.importer.ctx().extract.max_message_bytes;
    loop {
        let mut uids: Vec<u32> = timed(t, "SEARCH", session.uid_search(&query)).await?.into_iter().collect();
        uids.sort_unstable();
        let waiting: HashSet<String> = uids.iter().map(|u| format!("{validity}:{u}")).collect();
        let seen =
            w.db.run(move |conn| {
                store::prune_seen(conn, id, &waiting)?;
                store::seen_keys(conn, id)
            })
            .await?;
        for uid in uids {
            let key = format!("{validity}:{uid}");
            if !seen.contains(&key) {
                let Some((raw, cut)) = fetch(&mut session, uid, limit, t).await? else {
                    // Expunged by someone else meanwhile: nothing to take.
                    continue;
                };
                w.store(key, raw, cut.then_some(limit)).await?;
                let last = i64::from(uid);
                w.db.run(move |conn| store::raise_last_uid(conn, id, last)).await?;
            }
            mark(&mut session, uid, after, &flag, cfg.move_to.as_deref(), can_move, uidplus, t).await?;
        }
        w.record_success().await?;
        if !(cfg.idle && can_idle) {
            let _ = tokio::time::timeout(t, session.logout()).await;
            return Ok(());
        }
        // News that came with the last answers (a message arrived meanwhile): no need to wait.
        let mut news = false;
        while let Ok(r) = session.unsolicited_responses.try_recv() {
            news |= matches!(r, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_));
        }
        if news {
            continue;
        }
        session = idle(session, w.opts.idle_renew, t).await?;
    }
}

/// Waits in IDLE until the server reports a change or `renew` passes.
async fn idle(
    session: Session<Stream>,
    renew: Duration,
    t: Duration,
) -> Result<Session<Stream>, ConnectorError> {
    let mut handle = session.idle();
    timed(t, "IDLE", handle.init()).await?;
    let response = {
        let (wait, _stop) = handle.wait_with_timeout(renew);
        wait.await.map_err(|e| imap_error("IDLE", e))?
    };
    if response == IdleResponse::ManualInterrupt {
        // Nobody interrupts it here: the stream ended, the server went away.
        return Err(ConnectorError::Connect("connection closed by the server during IDLE".into()));
    }
    timed(t, "DONE", handle.done()).await
}

/// Fetches one message: all of it, or its first `limit` bytes (and `true`) when it is larger.
/// `None` if it is gone.
async fn fetch(
    session: &mut Session<Stream>,
    uid: u32,
    limit: usize,
    t: Duration,
) -> Result<Option<(Vec<u8>, bool)>, ConnectorError> {
    let sizes: Vec<_> = timed(t, "FETCH", async {
        session.uid_fetch(uid.to_string(), "RFC822.SIZE").await?.try_collect().await
    })
    .await?;
    let Some(size) = sizes.iter().find(|f| f.uid == Some(uid)).and_then(|f| f.size) else {
        return Ok(None);
    };
    let cut = usize::try_from(size).unwrap_or(usize::MAX) > limit;
    let item = if cut { format!("BODY.PEEK[]<0.{limit}>") } else { "BODY.PEEK[]".to_string() };
    let fetched: Vec<_> =
        timed(t, "FETCH", async { session.uid_fetch(uid.to_string(), &item).await?.try_collect().await })
            .await?;
    Ok(fetched.iter().find(|f| f.uid == Some(uid)).and_then(|f| f.body()).map(|b| (b.to_vec(), cut)))
}

/// Marks one stored message processed.
#[expect(clippy::too_many_arguments, reason = "one call site; the arguments are the connector's settings")]
async fn mark(
    session: &mut Session<Stream>,
    uid: u32,
    after: AfterImport,
    flag: &ProcessedFlag,
    move_to: Option<&str>,
    can_move: bool,
    uidplus: bool,
    t: Duration,
) -> Result<(), ConnectorError> {
    let set = uid.to_string();
    match (after, move_to) {
        (AfterImport::Move, Some(target)) if can_move => timed(t, "MOVE", session.uid_mv(&set, target)).await,
        (AfterImport::Move, Some(target)) => {
            timed(t, "COPY", session.uid_copy(&set, target)).await?;
            delete(session, &set, uidplus, t).await
        }
        (AfterImport::Delete, _) => delete(session, &set, uidplus, t).await,
        _ => {
            let query = format!("+FLAGS.SILENT ({})", flag.store_text());
            timed(t, "STORE", async { session.uid_store(&set, &query).await?.try_collect::<Vec<_>>().await })
                .await
                .map(|_| ())
        }
    }
}

/// `\Deleted` and expunge: only this message with UIDPLUS, the folder's deleted ones without.
async fn delete(
    session: &mut Session<Stream>,
    set: &str,
    uidplus: bool,
    t: Duration,
) -> Result<(), ConnectorError> {
    timed(t, "STORE", async {
        session.uid_store(set, "+FLAGS.SILENT (\\Deleted)").await?.try_collect::<Vec<_>>().await
    })
    .await?;
    if uidplus {
        timed(t, "EXPUNGE", async { session.uid_expunge(set).await?.try_collect::<Vec<_>>().await }).await?;
    } else {
        timed(t, "EXPUNGE", async { session.expunge().await?.try_collect::<Vec<_>>().await }).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_to_store_and_search_texts() {
        let seen = ProcessedFlag::parse("\\Seen").expect("seen");
        assert_eq!((seen.store_text(), seen.search_without()), ("\\Seen".into(), "UNSEEN".into()));
        let kw = ProcessedFlag::parse("$HarpoonImported").expect("keyword");
        assert_eq!(kw.search_without(), "UNKEYWORD $HarpoonImported");
        assert!(ProcessedFlag::parse("\\Deleted").is_err());
        assert!(ProcessedFlag::parse("two words").is_err());
        assert!(ProcessedFlag::parse("a)b").is_err());
    }
}
