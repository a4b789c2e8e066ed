//! A small POP3 client (RFC 1939, STLS from RFC 2595, UIDL): what the POP3 connector needs and no
//! more. Written here rather than taken from a crate: the maintained crates are blocking or tied
//! to another TLS stack, and the protocol subset is a few line-oriented commands.
//!
//! Session: greeting → (STLS → TLS) → USER/PASS → UIDL → RETR n / DELE n → QUIT. Deletions take
//! effect only at QUIT, so a session cut short deletes nothing.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::ConnectorError;

/// Longest status or listing line accepted (RFC 1939 allows 512 octets; be generous).
const MAX_LINE: usize = 8 * 1024;

pub struct Pop3<S> {
    stream: BufReader<S>,
    timeout: Duration,
}

/// One message of the maildrop: its number in this session and its unique id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub number: u32,
    pub uidl: String,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pop3<S> {
    pub fn new(stream: S, timeout: Duration) -> Self {
        Self { stream: BufReader::new(stream), timeout }
    }

    /// Gives the stream back for the TLS upgrade. Anything the server sent past the STLS answer
    /// is dropped, never read as if it came over TLS (the STARTTLS injection attack).
    pub fn into_inner(self) -> S {
        self.stream.into_inner()
    }

    /// Reads the server greeting.
    pub async fn greeting(&mut self) -> Result<String, ConnectorError> {
        self.status().await
    }

    /// `STLS`: the caller then wraps [`Self::into_inner`] in TLS.
    pub async fn stls(&mut self) -> Result<(), ConnectorError> {
        self.command("STLS").await.map_err(|e| match e {
            ConnectorError::Protocol(m) => ConnectorError::Tls(format!("the server refused STLS: {m}")),
            other => other,
        })?;
        Ok(())
    }

    /// USER and PASS. A refusal is [`ConnectorError::Auth`] with the server's text (which never
    /// echoes the password).
    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), ConnectorError> {
        if [user, password].iter().any(|s| s.contains(['\r', '\n'])) {
            return Err(ConnectorError::Config("user name and password must be one line".into()));
        }
        let to_auth = |e| match e {
            ConnectorError::Protocol(m) => ConnectorError::Auth(m),
            other => other,
        };
        self.command(&format!("USER {user}")).await.map_err(to_auth)?;
        self.command_secret(&format!("PASS {password}")).await.map_err(to_auth)?;
        Ok(())
    }

    /// `UIDL`: every message with its unique id.
    pub async fn uidl(&mut self) -> Result<Vec<Listed>, ConnectorError> {
        self.command("UIDL").await?;
        let (body, cut) = self.multiline(MAX_LINE * 1024 * 16).await?;
        if cut {
            return Err(ConnectorError::Protocol("the UIDL listing is too large".into()));
        }
        let mut out = Vec::new();
        for line in body.split(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_ascii_whitespace();
            let (Some(n), Some(uidl)) = (parts.next(), parts.next()) else {
                return Err(ConnectorError::Protocol(format!(
                    "malformed UIDL line '{}'",
                    line.escape_debug()
                )));
            };
            let number =
                n.parse().map_err(|_| ConnectorError::Protocol(format!("malformed UIDL number '{n}'")))?;
            out.push(Listed { number, uidl: uidl.to_string() });
        }
        Ok(out)
    }

    /// `RETR n`: the message's bytes (dot-unstuffed, CRLF kept). Past `limit` bytes the rest is
    /// read and dropped, and the flag says the message was cut.
    pub async fn retr(&mut self, number: u32, limit: usize) -> Result<(Vec<u8>, bool), ConnectorError> {
        self.command(&format!("RETR {number}")).await?;
        self.multiline(limit).await
    }

    /// `DELE n` (takes effect at QUIT).
    pub async fn dele(&mut self, number: u32) -> Result<(), ConnectorError> {
        self.command(&format!("DELE {number}")).await.map(|_| ())
    }

    /// `QUIT`: ends the session and commits the deletions.
    pub async fn quit(&mut self) -> Result<(), ConnectorError> {
        self.command("QUIT").await.map(|_| ())
    }

    async fn command(&mut self, line: &str) -> Result<String, ConnectorError> {
        tracing::trace!(command = line, "pop3");
        self.send(line).await?;
        self.status().await
    }

    /// Like [`Self::command`], never traced.
    async fn command_secret(&mut self, line: &str) -> Result<String, ConnectorError> {
        self.send(line).await?;
        self.status().await
    }

    async fn send(&mut self, line: &str) -> Result<(), ConnectorError> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let w = self.stream.get_mut();
        tokio::time::timeout(self.timeout, async {
            w.write_all(&bytes).await?;
            w.flush().await
        })
        .await
        .map_err(|_| ConnectorError::Timeout("sending a POP3 command".into()))?
        .map_err(|e| ConnectorError::Connect(format!("connection lost: {e}")))
    }

    /// One status line: `+OK …` is the text after it, `-ERR …` a [`ConnectorError::Protocol`].
    async fn status(&mut self) -> Result<String, ConnectorError> {
        let line = self.line(MAX_LINE).await?;
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if let Some(rest) = text.strip_prefix("+OK") {
            Ok(rest.trim().to_string())
        } else if let Some(rest) = text.strip_prefix("-ERR") {
            Err(ConnectorError::Protocol(rest.trim().to_string()))
        } else {
            Err(ConnectorError::Protocol(format!("unexpected answer '{}'", text.escape_debug())))
        }
    }

    /// Reads one line including its LF, at most `max` bytes.
    async fn line(&mut self, max: usize) -> Result<Vec<u8>, ConnectorError> {
        let mut buf = Vec::new();
        let limit = u64::try_from(max).unwrap_or(u64::MAX);
        let n =
            tokio::time::timeout(self.timeout, (&mut self.stream).take(limit).read_until(b'\n', &mut buf))
                .await
                .map_err(|_| ConnectorError::Timeout("waiting for the POP3 server".into()))?
                .map_err(|e| ConnectorError::Connect(format!("connection lost: {e}")))?;
        if n == 0 {
            return Err(ConnectorError::Connect("connection closed by the server".into()));
        }
        if buf.last() != Some(&b'\n') {
            return Err(ConnectorError::Protocol(format!("a line longer than {max} bytes")));
        }
        Ok(buf)
    }

    /// A multi-line answer up to the lone `.`, dot-unstuffed. Past `limit` bytes the lines are
    /// read and dropped (the session stays usable) and the flag says so.
    async fn multiline(&mut self, limit: usize) -> Result<(Vec<u8>, bool), ConnectorError> {
        let mut out = Vec::new();
        let mut cut = false;
        loop {
            let line = self.line(MAX_LINE.max(1 << 20)).await?;
            if line == b".\r\n" || line == b".\n" {
                return Ok((out, cut));
            }
            let content = match line.strip_prefix(b".") {
                Some(rest) => rest,
                None => line.as_slice(),
            };
            if cut || out.len() + content.len() > limit {
                cut = true;
                continue;
            }
            out.extend_from_slice(content);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn session(script: &'static [u8]) -> Pop3<tokio::io::DuplexStream> {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            server.write_all(script).await.expect("write");
            let mut sink = Vec::new();
            let _ = server.read_to_end(&mut sink).await;
        });
        Pop3::new(client, Duration::from_secs(5))
    }

    #[tokio::test]
    async fn unstuffs_dots_and_parses_uidl() {
        let mut p = session(
            b"+OK hi\r\n+OK\r\n1 abc\r\n2 def\r\n.\r\n+OK 30 octets\r\nSubject: x\r\n\r\n..leading dot\r\n.\r\n",
        )
        .await;
        p.greeting().await.expect("greeting");
        let list = p.uidl().await.expect("uidl");
        assert_eq!(
            list,
            vec![Listed { number: 1, uidl: "abc".into() }, Listed { number: 2, uidl: "def".into() }]
        );
        let (body, cut) = p.retr(1, 1000).await.expect("retr");
        assert_eq!(body, b"Subject: x\r\n\r\n.leading dot\r\n");
        assert!(!cut);
    }

    #[tokio::test]
    async fn a_refused_password_is_an_auth_error() {
        let mut p = session(b"+OK hi\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n").await;
        p.greeting().await.expect("greeting");
        match p.login("u", "wrong").await {
            Err(ConnectorError::Auth(m)) => {
                assert!(m.contains("Authentication failed") && !m.contains("wrong"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_oversized_message_is_cut_and_the_session_goes_on() {
        let mut p = session(b"+OK\r\n0123456789\r\n0123456789\r\n.\r\n+OK bye\r\n").await;
        let (body, cut) = p.retr(1, 15).await.expect("retr");
        assert_eq!((body.as_slice(), cut), (&b"0123456789\r\n"[..], true));
        p.quit().await.expect("quit");
    }
}
