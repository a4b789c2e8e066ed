//! iCalendar (`text/calendar`, `.ics` invitations): a phish's link sits in DESCRIPTION, LOCATION
//! or URL, folded at 75 octets (RFC 5545 §3.1) and with `\n`, `\,`, `\;` escapes in text values,
//! so a URL read as written would be cut at the fold. This module only undoes both.

/// Whether a part or attachment is an iCalendar object.
pub(crate) fn is_calendar(mime: &str, name: &str) -> bool {
    mime.eq_ignore_ascii_case("text/calendar")
        || mime.eq_ignore_ascii_case("application/ics")
        || name.to_ascii_lowercase().ends_with(".ics")
}

/// Unfolds content lines (a line break followed by one space or tab joins the lines) and
/// unescapes text values (`\n` and `\N` become line breaks, `\,` `\;` `\\` their character).
pub(crate) fn unfold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                if matches!(chars.peek(), Some(' ' | '\t')) {
                    chars.next();
                } else {
                    out.push('\n');
                }
            }
            '\n' => {
                if matches!(chars.peek(), Some(' ' | '\t')) {
                    chars.next();
                } else {
                    out.push('\n');
                }
            }
            '\\' => match chars.peek() {
                Some('n' | 'N') => {
                    chars.next();
                    out.push('\n');
                }
                Some(&e @ (',' | ';' | '\\')) => {
                    chars.next();
                    out.push(e);
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_unescapes() {
        let t = "BEGIN:VEVENT\r\nDESCRIPTION:Join at https://meet.example.top/j/12\r\n 345?pwd=x\\nThanks\\, IT\r\nLOCATION:https://loc.example.top/room\r\nEND:VEVENT\r\n";
        let u = unfold(t);
        assert!(u.contains("https://meet.example.top/j/12345?pwd=x\nThanks, IT\n"), "{u}");
        assert!(u.contains("LOCATION:https://loc.example.top/room\n"));
        assert!(
            is_calendar("TEXT/CALENDAR", "")
                && is_calendar("", "Invite.ICS")
                && !is_calendar("text/plain", "a.txt")
        );
    }
}
