//! Pure: a decoded text rendered as escaped HTML with `<mark>` around the extracted values' spans.
//! Spans may overlap or nest; the text is cut at every span boundary (one sorted sweep, linear in
//! the spans and the output) and each piece is marked
//! with every item covering it (`data-items="3 7"`), so a click on item 7 finds its first piece
//! with the selector `mark[data-items~="7"]`. Offsets come from the extraction (byte offsets into
//! the decoded text); one that is out of range or not on a UTF-8 boundary is moved outwards to
//! the nearest boundary, never sliced inside a character.

/// One highlighted span: bytes `start..end`, the draft item it belongs to and its CSS class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub item: i64,
    pub class: &'static str,
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The text as HTML with every span marked. One sort of the span boundaries, then one sweep
/// over them keeping the spans that cover the current piece: O(n log n) in the spans plus the
/// output, never spans × pieces.
pub fn render(text: &str, spans: &[Span]) -> String {
    use std::cmp::Reverse;
    use std::collections::BTreeSet;

    let spans: Vec<Span> = spans
        .iter()
        .map(|s| Span { start: floor_boundary(text, s.start), end: ceil_boundary(text, s.end), ..s.clone() })
        .filter(|s| s.start < s.end)
        .collect();
    // (position, opens, span index): at one position closings come first, so a span ending
    // where another starts never covers the other's first piece.
    let mut events: Vec<(usize, bool, usize)> =
        spans.iter().enumerate().flat_map(|(i, s)| [(s.start, true, i), (s.end, false, i)]).collect();
    events.sort_unstable();
    // The covering spans in input order (`data-items`), and by (start, shortest) for the look.
    let mut covering: BTreeSet<usize> = BTreeSet::new();
    let mut by_depth: BTreeSet<(usize, Reverse<usize>, usize)> = BTreeSet::new();
    let mut out = String::with_capacity(text.len() + spans.len() * 48);
    let mut next_event = events.iter().peekable();
    let mut pos = 0;
    while pos < text.len() {
        while let Some(&&(at, opens, i)) = next_event.peek() {
            if at > pos {
                break;
            }
            next_event.next();
            let Some(s) = spans.get(i) else { continue };
            if opens {
                covering.insert(i);
                by_depth.insert((s.start, Reverse(s.end), i));
            } else {
                covering.remove(&i);
                by_depth.remove(&(s.start, Reverse(s.end), i));
            }
        }
        let end = next_event.peek().map_or(text.len(), |e| e.0).min(text.len());
        let Some(piece) = text.get(pos..end) else { break };
        // The innermost (last-starting, then shortest) span decides the look.
        match by_depth.last().and_then(|&(_, _, i)| spans.get(i)) {
            None => escape(piece, &mut out),
            Some(inner) => {
                out.push_str("<mark class=\"hl ");
                out.push_str(inner.class);
                out.push_str("\" data-items=\"");
                for (n, i) in covering.iter().enumerate() {
                    if n > 0 {
                        out.push(' ');
                    }
                    if let Some(s) = spans.get(*i) {
                        out.push_str(&s.item.to_string());
                    }
                }
                out.push_str("\">");
                escape(piece, &mut out);
                out.push_str("</mark>");
            }
        }
        pos = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize, end: usize, item: i64) -> Span {
        Span { start, end, item, class: "proposed" }
    }

    #[test]
    fn escapes_everything_outside_and_inside_marks() {
        let text = "<b>x</b> http://a.example/?q=<script> & 'y'";
        let start = text.find("http").unwrap();
        let html = render(text, &[span(start, text.find(" &").unwrap(), 1)]);
        assert!(!html.contains("<b>") && !html.contains("<script>"), "{html}");
        assert!(html.starts_with("&lt;b&gt;x&lt;/b&gt; <mark class=\"hl proposed\" data-items=\"1\">http://a.example/?q=&lt;script&gt;</mark>"), "{html}");
        assert!(html.ends_with(" &amp; &#39;y&#39;"), "{html}");
    }

    #[test]
    fn overlapping_and_nested_spans_mark_every_piece() {
        let text = "http://host.example/path";
        let html = render(text, &[span(0, 24, 1), span(7, 19, 2)]);
        assert_eq!(
            html,
            "<mark class=\"hl proposed\" data-items=\"1\">http://</mark>\
             <mark class=\"hl proposed\" data-items=\"1 2\">host.example</mark>\
             <mark class=\"hl proposed\" data-items=\"1\">/path</mark>"
        );
        let crossing = render("abcdef", &[span(0, 4, 1), span(2, 6, 2)]);
        assert!(crossing.contains("data-items=\"1 2\">cd</mark>"), "{crossing}");
    }

    #[test]
    fn never_slices_inside_a_character_or_past_the_end() {
        let text = "é€x";
        // 1 is inside 'é' (2 bytes), 4 inside '€' (3 bytes), 99 past the end.
        let html = render(text, &[span(1, 4, 1), span(5, 99, 2)]);
        assert!(html.contains("data-items=\"1\">é€</mark>") || html.contains("é€"), "{html}");
        assert!(html.contains('x'), "{html}");
        assert_eq!(render("", &[span(0, 5, 1)]), "");
        assert_eq!(render("abc", &[span(2, 1, 1)]), "abc");
    }

    /// The former spans × pieces algorithm, kept as the reference the sweep must agree with.
    fn reference(text: &str, spans: &[Span]) -> String {
        let spans: Vec<Span> = spans
            .iter()
            .map(|s| Span {
                start: floor_boundary(text, s.start),
                end: ceil_boundary(text, s.end),
                ..s.clone()
            })
            .filter(|s| s.start < s.end)
            .collect();
        let mut cuts: Vec<usize> = vec![0, text.len()];
        for s in &spans {
            cuts.push(s.start);
            cuts.push(s.end);
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut out = String::new();
        for pair in cuts.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let piece = &text[a..b];
            let covering: Vec<&Span> = spans.iter().filter(|s| s.start <= a && b <= s.end).collect();
            if covering.is_empty() {
                escape(piece, &mut out);
                continue;
            }
            let items: Vec<String> = covering.iter().map(|s| s.item.to_string()).collect();
            let look = covering.iter().max_by_key(|s| (s.start, std::cmp::Reverse(s.end))).unwrap().class;
            out.push_str(&format!("<mark class=\"hl {look}\" data-items=\"{}\">", items.join(" ")));
            escape(piece, &mut out);
            out.push_str("</mark>");
        }
        out
    }

    #[test]
    fn the_sweep_agrees_with_the_reference_on_overlapping_spans_and_multibyte_text() {
        let text = "Größe <a href='x'>é€ http://ex.example/ü?q=1</a> & 𝔘nicode — ok";
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % (n as u64)).unwrap()
        };
        let classes = ["proposed", "pruned", "whitelisted"];
        for round in 0..500 {
            let count = next(12);
            let spans: Vec<Span> = (0..count)
                .map(|k| {
                    let a = next(text.len() + 4);
                    let b = a + next(text.len() / 2 + 1);
                    Span { start: a, end: b, item: (k % 5) as i64 + 1, class: classes[next(3)] }
                })
                .collect();
            assert_eq!(render(text, &spans), reference(text, &spans), "round {round}: {spans:?}");
        }
    }
}
