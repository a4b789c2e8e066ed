//! URLs hard-wrapped across lines in plain text: a mailer that breaks lines at a fixed column
//! (72–80) cuts a long URL in two, and the scanner then finds only its first half, which is a
//! wrong value. A join is made only when every sign of a wrap is there, because a false join
//! would glue the next word onto a real URL:
//! - the URL ends exactly at the end of its line, and that line is 60–80 characters long;
//! - the next line starts at its first column (no indent) with a run of URL characters that
//!   does not start a URL of its own (`http`, `www.`);
//! - and the run looks like a URL's rest (it holds `/ ? = & % #`) or the URL stops on a
//!   character a URL does not end with (`/ ? = & % - _ . # ~ +`), i.e. mid-token.
//!
//! Up to four continuation lines are joined.

use super::scan::Found;
use super::value::{self, ObservableKind};

/// Wrap columns seen in mailers: a line shorter than this was not hard-wrapped.
const MIN_COLUMN: usize = 60;
const MAX_COLUMN: usize = 80;
const MAX_LINES: usize = 4;

fn url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// Replaces each wrapped URL's first half by the joined URL (span to the end of its last
/// piece) and drops values found inside the joined pieces.
pub(crate) fn join(text: &str, found: &mut Vec<Found>) {
    let mut covered: Vec<(usize, usize)> = Vec::new();
    for f in found.iter_mut() {
        if f.value.kind != ObservableKind::Url || f.defanged {
            continue;
        }
        let mut url = f.value.value.clone();
        let mut end = f.end;
        // The scanner leaves a trailing `?`, `.` or `-` out of a URL (sentence punctuation);
        // at a wrap it is the URL's own.
        let tail = text.get(end..).unwrap_or_default();
        let gap = tail.len() - tail.trim_start_matches(['?', '=', '&', '.', '-', '_']).len();
        if gap <= 3
            && let Some(g) = tail.get(..gap)
            && tail.get(gap..).is_some_and(|r| r.starts_with('\n') || r.starts_with("\r\n"))
        {
            url.push_str(g);
            end += gap;
        }
        let mut joined = false;
        for _ in 0..MAX_LINES {
            let Some(next) = continuation(text, end, &url) else {
                break;
            };
            let (piece_start, piece_end) = next;
            url.push_str(text.get(piece_start..piece_end).unwrap_or_default());
            end = piece_end;
            joined = true;
        }
        if !joined {
            continue;
        }
        if let Some(p) = value::parse_url(&url) {
            covered.push((f.end, end));
            f.value = p.url;
            f.end = end;
        }
    }
    if !covered.is_empty() {
        found.retain(|g| !covered.iter().any(|&(s, e)| g.start >= s && g.start < e));
    }
}

/// The span of the next line's continuation of a URL ending at `end`, if it wraps there.
fn continuation(text: &str, end: usize, url: &str) -> Option<(usize, usize)> {
    let rest = text.get(end..)?;
    let after_break = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n'))?;
    let line_start = text.get(..end)?.rfind('\n').map_or(0, |p| p + 1);
    let columns = text.get(line_start..end)?.chars().count();
    if !(MIN_COLUMN..=MAX_COLUMN).contains(&columns) {
        return None;
    }
    let piece_start = end + (rest.len() - after_break.len());
    let len: usize = after_break.chars().take_while(|&c| url_char(c)).map(char::len_utf8).sum();
    // A run stopped by a non-URL character glued to it (`foo<`, `bar"`) is not a URL's rest.
    if !after_break.get(len..).is_none_or(|r| r.is_empty() || r.starts_with(char::is_whitespace)) {
        return None;
    }
    // Sentence punctuation after the URL's end is not part of it.
    let piece = after_break.get(..len)?.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
    if piece.is_empty() {
        return None;
    }
    // A rule line (`=====`, `-----`) under a URL is layout, not its rest.
    if !piece.chars().any(|c| c.is_ascii_alphanumeric()) || has_run(piece) {
        return None;
    }
    let lower = piece.to_ascii_lowercase();
    if lower.starts_with("http") || lower.starts_with("www.") || lower.contains("://") {
        return None;
    }
    let looks_like_rest = piece.contains(['/', '?', '=', '&', '%', '#']);
    // Not `/`: a URL ending a line in a signature (`http://example.org/`) is often complete,
    // and the next line's word is prose.
    let cut_mid_token = url.ends_with(['?', '=', '&', '%', '-', '_', '.', '#', '~', '+']);
    (looks_like_rest || cut_mid_token).then_some((piece_start, piece_start + piece.len()))
}

/// Four or more of the same punctuation character in a row.
fn has_run(s: &str) -> bool {
    let mut run = 0;
    let mut last = '\0';
    for c in s.chars() {
        run = if c == last && !c.is_ascii_alphanumeric() { run + 1 } else { 1 };
        last = c;
        if run >= 4 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::scan::{self, Mode};
    use super::*;

    fn urls(text: &str) -> Vec<String> {
        let (mut found, _) = scan::scan(text, Mode::Prose, &[], 100);
        join(text, &mut found);
        found.into_iter().filter(|f| f.value.kind == ObservableKind::Url).map(|f| f.value.value).collect()
    }

    #[test]
    fn joins_hard_wrapped_urls() {
        let t = "Please verify your account within 24 hours here https://verify.example.top/a\r\nccount/login?session=8f3a&user=bob now.\r\n";
        assert_eq!(urls(t), vec!["https://verify.example.top/account/login?session=8f3a&user=bob"]);
        let t = "Your mailbox storage is almost full. Review: https://mailbox-quota.top/review?\nuser=bob&step=2 now";
        assert_eq!(urls(t), vec!["https://mailbox-quota.top/review?user=bob&step=2"]);
        let t = "Your parcel is waiting, confirm delivery fees: https://parcel.example.top/track=\nAB12CD34\nThanks";
        assert_eq!(urls(t), vec!["https://parcel.example.top/track=AB12CD34"]);
    }

    #[test]
    fn does_not_join_prose_or_short_lines() {
        // A URL at the end of a long line, then a new sentence: no join.
        let t = "For more details about the change please read https://docs.example.top/policy\nThanks for your help\n";
        assert_eq!(urls(t), vec!["https://docs.example.top/policy"]);
        // A signature: URL ending in `/` at the end of a long line, a word under it.
        let t = "Greg Example <greg@example.net>                         http://www.example.org/\nReality is for people\n";
        assert_eq!(urls(t), vec!["http://www.example.org/"]);
        // A rule line under a URL.
        let t = "Unsubscribe or change your options at http://click.example.top/caaavgIb1dcmW/Child\n==============================================\n";
        assert_eq!(urls(t), vec!["http://click.example.top/caaavgIb1dcmW/Child"]);
        // A short line: not a hard wrap.
        let t = "See https://a.example.top/x/\nmore/stuff here\n";
        assert_eq!(urls(t), vec!["https://a.example.top/x/"]);
        // Indented next line, or another URL next.
        let t = "Please verify your account within 24 hours here https://verify.example.top/a/\n  b/c\n";
        assert_eq!(urls(t), vec!["https://verify.example.top/a/"]);
        let t = "Please verify your account within 24 hours here https://verify.example.top/a/\nhttps://b.example.top/\n";
        assert_eq!(urls(t).len(), 2);
    }
}
