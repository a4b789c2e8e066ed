//! The process's log output. Log lines quote values an attacker chooses (a user name in a Basic
//! header, a mail server's error text, a TAXII request's ids): a CR, LF or terminal escape in one
//! of them must not forge a line or repaint an operator's terminal. Every event is formatted into
//! one buffer and written at once, so the writer escapes every control character of that buffer
//! but its final newline: one event, one line, whatever it quotes.

use std::io::{self, Write};

/// Writes log events to standard error with their control characters escaped.
pub struct EscapingStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for EscapingStderr {
    type Writer = Escaping<io::Stderr>;
    fn make_writer(&'a self) -> Self::Writer {
        Escaping(io::stderr())
    }
}

/// A writer that escapes control characters (other than a trailing newline) as `\n`, `\r`,
/// `\t`, `\u{1b}`.
pub struct Escaping<W>(pub W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(&escape(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The bytes with every control character but a final `\n` escaped; other bytes unchanged.
pub fn escape(buf: &[u8]) -> Vec<u8> {
    let (body, end) = match buf.split_last() {
        Some((b'\n', body)) => (body, &b"\n"[..]),
        _ => (buf, &b""[..]),
    };
    let mut out = Vec::with_capacity(buf.len() + 8);
    for &b in body {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x00..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{{{b:x}}}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.extend_from_slice(end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_stays_one_line() {
        let line = b"WARN authentication failed user=admin\n2026 INFO forged\x1b[2J\n";
        let out = String::from_utf8(escape(line)).expect("utf8");
        assert_eq!(out, "WARN authentication failed user=admin\\n2026 INFO forged\\u{1b}[2J\n");
        assert_eq!(out.matches('\n').count(), 1);
        assert_eq!(escape("café ✓".as_bytes()), "café ✓".as_bytes());
    }
}
