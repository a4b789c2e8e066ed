//! The QA page's highlighting (`web::highlight::render`, issue 15: linear, 10,000 highlighted
//! values in under 200 ms). Not a timed test: prints the time per render for texts with 1,000 to
//! 100,000 spans, overlapping (every value also covered by its line's span) and over multibyte
//! text. Run: `cargo bench --bench highlight` (also run by `scripts/bench-starvation`).

use std::time::Instant;

use harpoon::web::highlight::{Span, render};

/// A decoded text of `n` lines, each with a URL, and the spans of a draft over it: the URL, its
/// host inside it, and the line around both (three nested spans per value).
fn case(n: usize) -> (String, Vec<Span>) {
    let mut text = String::new();
    let mut spans = Vec::with_capacity(n * 3);
    for i in 0..n {
        let line_start = text.len();
        text.push_str("Bitte prüfen Sie Ihr Konto — «dringend» → ");
        let url_start = text.len();
        let host = format!("login-{i}.évil.example");
        text.push_str("https://");
        let host_start = text.len();
        text.push_str(&host);
        let host_end = text.len();
        text.push_str(&format!("/reset?id={i}&user=alice"));
        let url_end = text.len();
        text.push_str(" <b>now</b>\n");
        let item = i64::try_from(i).unwrap_or(i64::MAX);
        spans.push(Span { start: line_start, end: text.len(), item: item * 3, class: "pruned" });
        spans.push(Span { start: url_start, end: url_end, item: item * 3 + 1, class: "proposed" });
        spans.push(Span { start: host_start, end: host_end, item: item * 3 + 2, class: "whitelisted" });
    }
    (text, spans)
}

fn main() {
    println!("| highlighted values | spans | text | best of 5 | per value |");
    println!("|---|---|---|---|---|");
    for n in [1_000usize, 10_000, 100_000] {
        let (text, spans) = case(n);
        let mut best = f64::MAX;
        let mut bytes = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let html = render(&text, &spans);
            best = best.min(start.elapsed().as_secs_f64());
            bytes = html.len();
        }
        println!(
            "| {n} | {} | {:.1} MB → {:.1} MB HTML | **{:.1} ms** | {:.2} µs |",
            spans.len(),
            text.len() as f64 / 1e6,
            bytes as f64 / 1e6,
            best * 1e3,
            best * 1e6 / n as f64
        );
    }
}
