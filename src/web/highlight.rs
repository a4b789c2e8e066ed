//! Pure: a decoded text rendered as escaped HTML with `<mark>` around the extracted values' spans.
//! Spans may overlap or nest; the text is cut at every span boundary and each piece is marked
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

/// The text as HTML with every span marked.
pub fn render(text: &str, spans: &[Span]) -> String {
    let spans: Vec<Span> = spans
        .iter()
        .map(|s| Span { start: floor_boundary(text, s.start), end: ceil_boundary(text, s.end), ..s.clone() })
        .filter(|s| s.start < s.end)
        .collect();
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for s in &spans {
        cuts.push(s.start);
        cuts.push(s.end);
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = String::with_capacity(text.len() + spans.len() * 48);
    for pair in cuts.windows(2) {
        let (a, b) = match pair {
            [a, b] => (*a, *b),
            _ => continue,
        };
        let Some(piece) = text.get(a..b) else { continue };
        let covering: Vec<&Span> = spans.iter().filter(|s| s.start <= a && b <= s.end).collect();
        if covering.is_empty() {
            escape(piece, &mut out);
            continue;
        }
        let items: Vec<String> = covering.iter().map(|s| s.item.to_string()).collect();
        // The innermost (last-starting, then shortest) span decides the look.
        let look =
            covering.iter().max_by_key(|s| (s.start, std::cmp::Reverse(s.end))).map_or("", |s| s.class);
        out.push_str("<mark class=\"hl ");
        out.push_str(look);
        out.push_str("\" data-items=\"");
        out.push_str(&items.join(" "));
        out.push_str("\">");
        escape(piece, &mut out);
        out.push_str("</mark>");
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
}
