//! Inline forwards: finds the "Forwarded message" / "Original Message" / "Begin forwarded
//! message:" block in a reporter's body and reads its pseudo-headers (From, Date/Sent, To, Cc,
//! Subject), so the forwarded part can be told apart from the reporter's own words.

use std::sync::LazyLock;

use regex::Regex;

static MARKER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?mi)^[ \t>]*(?:(?:-{3,}\s*Forwarded message\s*-{3,}|-{3,}\s*Original Message\s*-{3,}|Begin forwarded message:|-{3,}\s*Weitergeleitete Nachricht\s*-{3,}|-{3,}\s*Message transféré\s*-{3,}|_{20,})[ \t]*\r?$|\*?From:\*?[ \t]+[^\r\n]*\r?\n[ \t>]*\*?(?:Sent|Date):)",
    )
    .ok()
});

/// A forwarded message found inside a text body.
#[derive(Debug, Default)]
pub(crate) struct InlineForward {
    /// Where the marker line starts: text from here on belongs to the forwarded message.
    pub start: usize,
    pub from: Option<String>,
    pub date: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub subject: Option<String>,
    /// Where the pseudo-header lines end: a later block is searched for from here.
    pub header_end: usize,
}

/// Finds the first inline forward whose block has at least a `From:` line.
pub(crate) fn find(text: &str) -> Option<InlineForward> {
    let re = MARKER.as_ref()?;
    for m in re.find_iter(text).take(20) {
        let marker_is_from = m.as_str().trim_start_matches([' ', '\t', '>', '*']).starts_with("From:");
        let block_start = if marker_is_from { m.start() } else { m.end() };
        let mut fwd = InlineForward { start: m.start(), ..InlineForward::default() };
        let mut seen = 0;
        let mut last_key: Option<&str> = None;
        let mut pos = block_start;
        for raw_line in text.get(block_start..).unwrap_or_default().split_inclusive('\n').take(40) {
            pos += raw_line.len();
            let line = raw_line.trim_end_matches(['\n', '\r']);
            let l = line.trim_start_matches([' ', '\t', '>']).trim();
            if l.is_empty() {
                if seen > 0 {
                    break;
                }
                continue;
            }
            let Some((k, v)) = l.split_once(':') else {
                // Folded continuation of the previous field (long To: lists).
                if let (Some(key), true) = (last_key, seen > 0) {
                    if key == "to"
                        && let Some(t) = fwd.to.as_mut()
                    {
                        t.push(' ');
                        t.push_str(l);
                    }
                    continue;
                }
                break;
            };
            let key = k.trim_matches('*').trim().to_ascii_lowercase();
            let v = v.trim().trim_matches('*').trim().to_owned();
            let slot = match key.as_str() {
                "from" | "von" | "de" => &mut fwd.from,
                "date" | "sent" | "gesendet" | "datum" | "envoyé" => &mut fwd.date,
                "to" | "an" | "à" | "para" => &mut fwd.to,
                "cc" => &mut fwd.cc,
                "subject" | "betreff" | "objet" | "asunto" => &mut fwd.subject,
                "reply-to" | "importance" | "attachments" => {
                    continue;
                }
                _ => {
                    if seen > 0 {
                        break;
                    }
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(v);
            }
            fwd.header_end = pos;
            last_key = match key.as_str() {
                "to" | "an" => Some("to"),
                _ => None,
            };
            seen += 1;
        }
        if fwd.from.is_some() {
            return Some(fwd);
        }
    }
    None
}

/// Where the first inline forward of `text` starts (its marker line), if there is one.
pub(crate) fn first_start(text: &str) -> Option<usize> {
    find(text).map(|f| f.start)
}

/// Every inline forward, in order (at most `max`): a forward of a forward quotes the earlier
/// block below its own, each with its own pseudo-headers.
pub(crate) fn find_all(text: &str, max: usize) -> Vec<InlineForward> {
    let mut out = Vec::new();
    let mut from = 0;
    while out.len() < max {
        let Some(mut f) = text.get(from..).and_then(find) else {
            break;
        };
        f.start += from;
        f.header_end += from;
        // Search again after this block's pseudo-headers (its `From:`/`Date:` lines would
        // otherwise match again as a marker).
        from = f.header_end.max(f.start + 1);
        out.push(f);
        if !text.is_char_boundary(from) {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_and_outlook_styles() {
        let t = "FYI, looks fake.\n\n---------- Forwarded message ---------\nFrom: IT Desk <it@evil.example.com>\nDate: Mon, 1 Jan 2024\nSubject: Password expiry\nTo: <bob@corp.example>\n\nClick here\n";
        let f = find(t);
        assert_eq!(f.as_ref().map(|f| f.start), t.find("----------"));
        assert_eq!(f.as_ref().and_then(|f| f.from.as_deref()), Some("IT Desk <it@evil.example.com>"));
        assert_eq!(f.and_then(|f| f.subject), Some("Password expiry".into()));
        let t = "see below\r\n\r\n________________________________\r\nFrom: Payroll <pay@evil.example.net>\r\nSent: Monday\r\nTo: Bob\r\nSubject: Bonus\r\n\r\nbody";
        assert!(find(t).is_some_and(|f| f.from.as_deref() == Some("Payroll <pay@evil.example.net>")));
        let t = "Hi\n\nFrom: Mallory <m@evil.example.org>\nSent: Tuesday\nTo: Bob\nSubject: x\n\nbody";
        assert!(find(t).is_some_and(|f| f.subject.as_deref() == Some("x")));
        assert!(find("just a note\nFrom: me\n").is_none());
    }

    #[test]
    fn several_blocks() {
        let t = "FYI\n\n---------- Forwarded message ---------\nFrom: Carol <carol@partner.example>\nDate: Tue\nSubject: Fwd: x\n\nsee below\n\n---------- Forwarded message ---------\nFrom: Mallory <m@evil.example.org>\nDate: Mon\nSubject: x\n\nhttps://evil.example.org/\n";
        let all = find_all(t, 8);
        assert_eq!(all.len(), 2);
        assert_eq!(all.get(1).and_then(|f| f.from.as_deref()), Some("Mallory <m@evil.example.org>"));
        assert!(all.first().zip(all.get(1)).is_some_and(|(a, b)| a.start < b.start));
        assert_eq!(find_all(t, 1).len(), 1);
        assert!(find_all("nothing here", 8).is_empty());
    }
}
