//! One budget per input (design §6): every byte a decoder produces for one email — MIME parts,
//! nested messages, archive members at any depth, `.msg` streams, TNEF, PDF streams and embedded
//! files, QR images — is charged to one total, the texts kept for scanning to another, and the
//! whole walk has a deadline. The per-format limits (ratio, members, depth) still apply; this is
//! the sum over all of them, so that no combination of formats multiplies them.
//!
//! Spending past a cap stops the branch that asked and leaves one warning; the walk goes on with
//! what is left (an empty budget makes every later branch stop at once, each without another
//! warning of its own).

use std::time::{Duration, Instant};

use super::model::WarningKind;

/// What ran out, for the one warning each gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spent {
    Decoded,
    Text,
    Time,
}

pub(crate) struct Budget {
    decoded_left: u64,
    max_decoded: u64,
    text_left: usize,
    max_text: usize,
    deadline: Instant,
    max_time: Duration,
    /// Highest decoded total reached (for the corpus measurement, `bench-extract`).
    pub(crate) decoded_used: u64,
    warned: Vec<Spent>,
}

impl Budget {
    pub(crate) fn new(max_decoded: u64, max_text: usize, max_time: Duration) -> Self {
        Self {
            decoded_left: max_decoded,
            max_decoded,
            text_left: max_text,
            max_text,
            deadline: Instant::now().checked_add(max_time).unwrap_or_else(Instant::now),
            max_time,
            decoded_used: 0,
            warned: Vec::new(),
        }
    }

    /// Decoded bytes still allowed (0 once the deadline has passed: nothing more is decoded).
    pub(crate) fn decoded_left(&self) -> u64 {
        if self.expired() { 0 } else { self.decoded_left }
    }

    /// Charges `n` decoded bytes. `false` when they do not fit: the caller drops what they were
    /// for (the budget is then empty, so every later branch stops too).
    #[must_use]
    pub(crate) fn take(&mut self, n: u64) -> bool {
        if self.expired() {
            return false;
        }
        if n > self.decoded_left {
            self.decoded_used = self.max_decoded;
            self.decoded_left = 0;
            return false;
        }
        self.decoded_left -= n;
        self.decoded_used += n;
        true
    }

    /// Charges bytes a decoder already produced within a cap the budget gave it.
    pub(crate) fn spend(&mut self, n: u64) {
        let n = n.min(self.decoded_left);
        self.decoded_left -= n;
        self.decoded_used += n;
    }

    /// How much of a text of `len` bytes may be kept (all of it, or what is left).
    pub(crate) fn keep_text(&mut self, len: usize) -> usize {
        let kept = len.min(self.text_left);
        self.text_left -= kept;
        kept
    }

    pub(crate) fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Time left to the deadline.
    pub(crate) fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The warning for `what`, the first time it runs out; `None` after.
    pub(crate) fn exhausted(&mut self, what: Spent, place: &str) -> Option<(WarningKind, String)> {
        if self.warned.contains(&what) {
            return None;
        }
        self.warned.push(what);
        let detail = match what {
            Spent::Decoded => format!(
                "{place}: the email's decoding budget ({} bytes in all) is spent; this and the rest not read",
                self.max_decoded
            ),
            Spent::Text => format!(
                "{place}: the email's text budget ({} bytes kept in all) is spent; text cut",
                self.max_text
            ),
            Spent::Time => format!(
                "{place}: the email's time budget ({} s) is spent; the rest not read",
                self.max_time.as_secs_f64()
            ),
        };
        Some((WarningKind::Budget, detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_until_empty_then_refuses_everything() {
        let mut b = Budget::new(100, 10, Duration::from_secs(60));
        assert!(b.take(60));
        assert!(!b.take(50), "over the rest");
        assert_eq!(b.decoded_left(), 0);
        assert!(!b.take(1), "an empty budget stops every later branch");
        assert_eq!(b.keep_text(7), 7);
        assert_eq!(b.keep_text(7), 3);
        assert!(b.exhausted(Spent::Decoded, "x").is_some());
        assert!(b.exhausted(Spent::Decoded, "y").is_none(), "one warning each");
    }

    #[test]
    fn an_expired_deadline_refuses_decoding() {
        let mut b = Budget::new(100, 10, Duration::ZERO);
        assert!(b.expired());
        assert!(!b.take(1));
        assert_eq!(b.decoded_left(), 0);
    }
}
