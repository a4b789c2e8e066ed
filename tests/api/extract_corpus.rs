//! The shared real-email corpus (`../shared/corpus`, or `HARPOON_CORPUS`): every file parses
//! without panic and within the limits, spans are valid, phishing yields its links, and benign
//! mail proposes few indicators. Prints counts per indicator type (run with `--nocapture`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harpoon::extract::{self, ExtractOptions, Extraction, ObservableKind, WarningKind};

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HARPOON_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    dir.is_dir().then_some(dir)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else if p.extension().is_some_and(|e| e == "eml" || e == "msg") {
            out.push(p);
        }
    }
}

#[derive(Default)]
struct Stats {
    files: usize,
    bytes: usize,
    total: Duration,
    worst: (Duration, String),
    proposed: BTreeMap<&'static str, usize>,
    whitelisted: BTreeMap<&'static str, usize>,
    with_url: usize,
    http_in_text: usize,
    http_but_no_url: Vec<String>,
    proposed_per_file: Vec<usize>,
    warnings: BTreeMap<String, usize>,
    /// Proposed registered domains, for spotting systematic false positives.
    registered: BTreeMap<String, usize>,
    /// The largest total of bytes decoded for one email (against `max_decoded_bytes`).
    max_decoded: (u64, String),
}

/// A link other than the XML namespace and DTD addresses every HTML/Office body carries.
fn has_real_link(text: &str) -> bool {
    const NAMESPACES: [&str; 4] = ["w3.org", "schemas.microsoft.com", "openxmlformats.org", "purl.org"];
    text.match_indices("http").any(|(i, _)| {
        let after = text.get(i..).unwrap_or_default();
        let tail: String = after.chars().take(48).collect();
        (tail.starts_with("http://") || tail.starts_with("https://"))
            && !NAMESPACES.iter().any(|n| tail.contains(n))
    })
}

fn check(x: &Extraction, name: &str, opts: &ExtractOptions) -> Result<(), String> {
    if x.warnings.iter().any(|w| w.kind == WarningKind::Internal) {
        return Err(format!("{name}: internal error"));
    }
    // The budget's defaults are sized so that no real email hits them.
    if let Some(w) = x.warnings.iter().find(|w| w.kind == WarningKind::Budget) {
        return Err(format!("{name}: {}", w.detail));
    }
    if x.observables.len() > opts.max_observables {
        return Err(format!("{name}: {} observables over the limit", x.observables.len()));
    }
    for o in &x.observables {
        for p in &o.provenance {
            if x.excerpt(p).is_none() {
                return Err(format!("{name}: bad span {p:?} for {}", o.indicator.value));
            }
        }
    }
    Ok(())
}

fn run_folder(dir: &Path, opts: &ExtractOptions) -> Result<Stats, String> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    let mut s = Stats::default();
    for f in &files {
        let raw = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let name = f.display().to_string();
        let t0 = Instant::now();
        let x = extract::extract(&raw, opts);
        let dt = t0.elapsed();
        check(&x, &name, opts)?;
        s.files += 1;
        s.bytes += raw.len();
        s.total += dt;
        if dt > s.worst.0 {
            s.worst = (dt, name.clone());
        }
        if x.decoded_bytes > s.max_decoded.0 {
            s.max_decoded = (x.decoded_bytes, name.clone());
        }
        let mut n = 0;
        for o in &x.observables {
            let k = o.indicator.kind.as_str();
            if o.whitelisted.is_none() {
                *s.proposed.entry(k).or_default() += 1;
                n += 1;
                if let Some(r) = &o.indicator.registered_domain {
                    *s.registered.entry(r.clone()).or_default() += 1;
                }
            } else {
                *s.whitelisted.entry(k).or_default() += 1;
            }
        }
        s.proposed_per_file.push(n);
        for w in &x.warnings {
            *s.warnings.entry(format!("{:?}", w.kind)).or_default() += 1;
        }
        let has_url = x.observables.iter().any(|o| o.indicator.kind == ObservableKind::Url);
        s.with_url += usize::from(has_url);
        let http = x
            .texts
            .iter()
            .any(|t| !matches!(t.location, extract::Location::Header { .. }) && has_real_link(&t.text));
        if http {
            s.http_in_text += 1;
            if !has_url {
                s.http_but_no_url.push(name);
            }
        }
    }
    Ok(s)
}

fn report(label: &str, s: &Stats) {
    let mb = s.bytes as f64 / 1e6;
    let secs = s.total.as_secs_f64().max(1e-9);
    eprintln!(
        "\n== {label}: {} files, {:.1} MB, {:.2} MB/s, {:.0} emails/s, worst {:?} ({})",
        s.files,
        mb,
        mb / secs,
        s.files as f64 / secs,
        s.worst.0,
        s.worst.1
    );
    eprintln!("   {:<8} {:>9} {:>12}", "kind", "proposed", "whitelisted");
    for k in ObservableKind::ALL {
        let k = k.as_str();
        eprintln!(
            "   {:<8} {:>9} {:>12}",
            k,
            s.proposed.get(k).copied().unwrap_or(0),
            s.whitelisted.get(k).copied().unwrap_or(0)
        );
    }
    let mut per = s.proposed_per_file.clone();
    per.sort_unstable();
    let total: usize = per.iter().sum();
    let median = per.get(per.len() / 2).copied().unwrap_or(0);
    let max = per.last().copied().unwrap_or(0);
    eprintln!(
        "   proposed per email: total {total}, mean {:.2}, median {median}, max {max}; with a URL: {}; text has http but no URL: {}/{}",
        total as f64 / s.files.max(1) as f64,
        s.with_url,
        s.http_but_no_url.len(),
        s.http_in_text
    );
    eprintln!("   warnings: {:?}", s.warnings);
    eprintln!("   most bytes decoded for one email: {} ({})", s.max_decoded.0, s.max_decoded.1);
    let mut top: Vec<(&String, &usize)> = s.registered.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    let top: Vec<String> = top.iter().take(15).map(|(d, n)| format!("{d} {n}")).collect();
    eprintln!("   top proposed registered domains: {}", top.join(", "));
    for n in s.http_but_no_url.iter().take(5) {
        eprintln!("   no URL: {n}");
    }
}

#[test]
fn extract_corpus_parses_within_limits_and_finds_indicators() -> Result<(), String> {
    let Some(dir) = corpus_dir() else {
        eprintln!("corpus not found; set HARPOON_CORPUS");
        return Ok(());
    };
    let opts = ExtractOptions::default();

    let phish = run_folder(&dir.join("phishing"), &opts)?;
    report("phishing", &phish);
    let msg = run_folder(&dir.join("msg"), &opts)?;
    report("msg", &msg);
    let benign = run_folder(&dir.join("benign"), &opts)?;
    report("benign", &benign);

    assert!(phish.files >= 1000, "phishing corpus incomplete: {}", phish.files);
    assert!(msg.files >= 80, "msg corpus incomplete: {}", msg.files);
    assert!(benign.files >= 650, "benign corpus incomplete: {}", benign.files);
    // The decoding budget keeps a margin of at least 4× over the largest real email.
    let most = [&phish, &msg, &benign].iter().map(|s| s.max_decoded.0).max().unwrap_or(0);
    assert!(most.saturating_mul(4) <= opts.max_decoded_bytes, "largest decoded total {most}");
    // A phish whose decoded text has a link must yield a URL (allow a handful whose only links
    // point at hosts without a public suffix).
    assert!(
        phish.http_but_no_url.len() * 100 <= phish.http_in_text,
        "phishing with http in text but no URL: {} of {}: {:?}",
        phish.http_but_no_url.len(),
        phish.http_in_text,
        phish.http_but_no_url.iter().take(10).collect::<Vec<_>>()
    );
    assert!(phish.with_url * 100 >= phish.files * 85, "phishing with a URL: {}", phish.with_url);
    // Every .msg but the 11-byte garbage file yields a message with a subject or a body text.
    assert!(msg.warnings.get("Malformed").copied().unwrap_or(0) <= 3, "{:?}", msg.warnings);
    // Benign mail: real links are proposed (pruning them is the analyst's and the whitelist's
    // job), but junk must not be: no hashes out of tracking ids, few IPs, a modest median.
    let hashes: usize = ["md5", "sha1", "sha256", "sha512"]
        .iter()
        .map(|k| benign.proposed.get(k).copied().unwrap_or(0))
        .sum();
    assert!(hashes <= 5, "benign mail proposed {hashes} hashes");
    let mut per = benign.proposed_per_file.clone();
    per.sort_unstable();
    let median = per.get(per.len() / 2).copied().unwrap_or(0);
    assert!(median <= 20, "benign median proposed per email {median}");
    // Provider-internal IPv6 hops (Exchange Online) are relays, not proposals.
    let v6 = phish.proposed.get("ipv6").copied().unwrap_or(0);
    assert!(v6 <= 300, "phishing proposed {v6} IPv6 addresses");
    let benign_total: usize = benign.proposed_per_file.iter().sum();
    eprintln!("benign proposed total: {benign_total}");
    Ok(())
}

/// Development aid: `HARPOON_DUMP=file cargo test --test api extract_dump -- --ignored --nocapture`
/// prints the Extraction of one file as JSON.
#[test]
#[ignore = "development aid"]
fn extract_dump() -> Result<(), String> {
    let Some(path) = std::env::var_os("HARPOON_DUMP") else {
        return Ok(());
    };
    let raw = std::fs::read(&path).map_err(|e| e.to_string())?;
    let x = extract::extract(&raw, &ExtractOptions::default());
    println!("{}", serde_json::to_string_pretty(&x).map_err(|e| e.to_string())?);
    Ok(())
}

/// Mutation fuzzing of parse + extract, seeded from the golden fixtures and (if present) the
/// corpus: byte flips, truncations, splices and inserted MIME/HTML/RTF/CFB tokens. Properties: no
/// panic (a caught one shows as an `internal` warning), valid spans, bounded output, and no
/// input slower than a generous bound. Crashing inputs are written to
/// `tests/fixtures/mail/fuzz-crash-N.eml` (keep them as regression fixtures).
/// Quick by default; `HARPOON_FUZZ_SECONDS=600` for a long run.
/// What the mutator splices in: the syntax that steers the parsers.
const TOKENS: &[&[u8]] = &[
    b"\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"=?utf-8?b?",
    b"=?iso-2022-jp?q?",
    b"=\r\n",
    b"&#",
    b"&#55349;",
    b"<a href=\"",
    b"<!--",
    b"<script>",
    b"[.]",
    b"hxxp://",
    b"http://",
    b"@",
    b"xn--",
    b"\\'e9",
    b"{\\*\\htmltag",
    b"PK\x03\x04",
    b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
    b"\xff\xfe\x00",
    b"---------- Forwarded message ---------\nFrom: a <b@c.com>\n",
];

/// xorshift64: a fixed sequence, so a run can be repeated.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The fixtures (emails, Outlook messages, mboxes, texts) and every 7th small corpus file.
fn fuzz_seeds(fixtures: &Path) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(fixtures) {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            let wanted = p.extension().is_some_and(|e| e == "eml" || e == "msg" || e == "mbox" || e == "txt");
            if wanted && let Ok(b) = std::fs::read(&p) {
                seeds.push(b);
            }
        }
    }
    if let Some(dir) = corpus_dir() {
        let mut files = Vec::new();
        files_under(&dir, &mut files);
        // Every 7th corpus file, small ones only: variety without slowing the loop.
        for p in files.iter().step_by(7) {
            if let Ok(b) = std::fs::read(p)
                && b.len() < 200_000
            {
                seeds.push(b);
            }
        }
    }
    seeds
}

/// One to eight mutations of `input`: a bit flipped, cut short, a token spliced in, a chunk
/// repeated or removed, another seed's tail; at most 4 MiB.
fn mutate(mut input: Vec<u8>, seeds: &[Vec<u8>], rng: &mut XorShift) -> Vec<u8> {
    for _ in 0..1 + rng.next() % 8 {
        let len = input.len().max(1);
        let at = (rng.next() as usize) % len;
        match rng.next() % 6 {
            0 => {
                if let Some(b) = input.get_mut(at) {
                    *b ^= 1 << (rng.next() % 8);
                }
            }
            1 => input.truncate(at),
            2 => {
                let tok = TOKENS.get((rng.next() as usize) % TOKENS.len()).copied().unwrap_or(b"");
                let at = at.min(input.len());
                input.splice(at..at, tok.iter().copied());
            }
            3 => {
                let end = (at + (rng.next() as usize) % 4096).min(input.len());
                let chunk: Vec<u8> = input.get(at..end).unwrap_or_default().to_vec();
                let to = ((rng.next() as usize) % len).min(input.len());
                input.splice(to..to, chunk);
            }
            4 => {
                let end = (at + (rng.next() as usize) % 256).min(input.len());
                input.drain(at.min(end)..end);
            }
            _ => {
                let other = seeds.get((rng.next() as usize) % seeds.len()).cloned().unwrap_or_default();
                let from = (rng.next() as usize) % other.len().max(1);
                input.truncate(at);
                input.extend_from_slice(other.get(from..).unwrap_or_default());
            }
        }
        input.truncate(4 << 20);
    }
    input
}

#[test]
fn extract_fuzz_mutations_hold_properties() -> Result<(), String> {
    let secs: u64 = std::env::var("HARPOON_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
    let seeds = fuzz_seeds(&fixtures);
    assert!(!seeds.is_empty(), "no fuzz seeds");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let opts = ExtractOptions::default();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut runs = 0u64;
    let mut slowest = Duration::ZERO;
    let mut crashes = Vec::new();
    let mut contained = 0usize;
    while Instant::now() < deadline {
        let seed = seeds.get((rng.next() as usize) % seeds.len()).cloned().unwrap_or_default();
        let input = mutate(seed, &seeds, &mut rng);
        let t0 = Instant::now();
        let x = extract::extract(&input, &opts);
        let dt = t0.elapsed();
        slowest = slowest.max(dt);
        runs += 1;
        contained += usize::from(x.warnings.iter().any(|w| w.detail.contains("MIME parser failed")));
        let problem = check(&x, "fuzz", &opts).err().or_else(|| {
            (dt > Duration::from_secs(5)).then(|| format!("slow: {dt:?} for {} bytes", input.len()))
        });
        if let Some(p) = problem {
            let path = fixtures.join(format!("fuzz-crash-{}.eml", crashes.len()));
            let _ = std::fs::write(&path, &input);
            crashes.push(format!("{p} -> {}", path.display()));
            if crashes.len() >= 5 {
                break;
            }
        }
    }
    eprintln!(
        "fuzz: {runs} inputs in {secs} s from {} seeds, slowest {slowest:?}, \
         mail-parser panics contained: {contained}",
        seeds.len()
    );
    assert!(crashes.is_empty(), "fuzz found problems:\n{}", crashes.join("\n"));
    Ok(())
}
