//! Throughput benchmark for `extract` (not a timed test): end-to-end parse + extract on the
//! shared corpus (`HARPOON_CORPUS`, default `../shared/corpus`) and on hostile inputs, one core.
//! Run: `cargo bench --bench extract`. Prints MB/s of raw email, emails/s and the worst email;
//! `BENCH_ROUNDS=N` (3) rounds, `BENCH_TOP=N` also lists the N slowest inputs per row on stderr,
//! `BENCH_HOSTILE=0` leaves out the hostile inputs. A second table splits the worst email into
//! those whose extraction read no image and those that read at least one for QR codes (issue
//! 16's goals: 50 ms and 150 ms).

mod common;
use common::cpu_ticks;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harpoon::extract::{ExtractOptions, extract};

/// The allocator the `harpoon` binary runs on (src/main.rs), so the bench measures what the
/// server spends: on glibc's malloc, malloc and free were ≈ 5 % of the samples.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files_under(&p, out);
        } else if p.extension().is_some_and(|e| e == "eml" || e == "msg") {
            out.push(p);
        }
    }
}

struct Row {
    label: String,
    /// MB per CPU-second over all rounds.
    cpu_mb_s: Option<f64>,
    files: usize,
    bytes: usize,
    best_total: Duration,
    worst: Duration,
    worst_name: String,
    p99: Duration,
    /// The slowest input that read no image, and the slowest that read one (QR codes).
    worst_plain: Option<(Duration, String)>,
    worst_images: Option<(Duration, String)>,
    /// Inputs that read at least one image.
    n_images: usize,
}

fn bench(label: &str, inputs: &[(String, Vec<u8>)], rounds: usize) -> Row {
    let opts = ExtractOptions::default();
    let bytes = inputs.iter().map(|(_, b)| b.len()).sum();
    let mut best_total = Duration::MAX;
    let mut per_file = vec![Duration::MAX; inputs.len()];
    let mut with_images = vec![false; inputs.len()];
    let mut sink = 0usize;
    let cpu0 = cpu_ticks();
    for _ in 0..rounds {
        let t0 = Instant::now();
        for (i, (_, raw)) in inputs.iter().enumerate() {
            let t = Instant::now();
            let x = extract(raw, &opts);
            let dt = t.elapsed();
            sink += x.observables.len();
            if let Some(slot) = per_file.get_mut(i) {
                *slot = (*slot).min(dt);
            }
            if let Some(slot) = with_images.get_mut(i) {
                *slot = x.images_read > 0;
            }
        }
        best_total = best_total.min(t0.elapsed());
    }
    std::hint::black_box(sink);
    let cpu_mb_s = cpu0.zip(cpu_ticks()).and_then(|(a, b)| {
        let secs = (b.saturating_sub(a)) as f64 / 100.0;
        (secs >= 0.2).then(|| bytes as f64 * rounds as f64 / 1e6 / secs)
    });
    let (wi, worst) =
        per_file.iter().enumerate().max_by_key(|(_, d)| **d).map_or((0, Duration::ZERO), |(i, d)| (i, *d));
    // `BENCH_TOP=N`: the N slowest inputs of this row, to know what to profile.
    let top: usize = std::env::var("BENCH_TOP").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    if top > 0 {
        let mut slow: Vec<(Duration, &str)> =
            per_file.iter().zip(inputs).map(|(d, (name, _))| (*d, name.as_str())).collect();
        slow.sort_by_key(|s| std::cmp::Reverse(s.0));
        for (d, name) in slow.iter().take(top) {
            eprintln!("{label}: {:>9.2} ms  {name}", d.as_secs_f64() * 1e3);
        }
    }
    let worst_of = |images: bool| {
        per_file
            .iter()
            .zip(&with_images)
            .zip(inputs)
            .filter(|((_, w), _)| **w == images)
            .max_by_key(|((d, _), _)| **d)
            .map(|((d, _), (name, _))| (*d, name.clone()))
    };
    let (worst_plain, worst_images) = (worst_of(false), worst_of(true));
    let mut sorted = per_file.clone();
    sorted.sort();
    let p99 = sorted
        .get((sorted.len() * 99 / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    Row {
        label: label.to_owned(),
        cpu_mb_s,
        files: inputs.len(),
        bytes,
        best_total,
        worst,
        worst_name: inputs.get(wi).map(|(n, _)| n.clone()).unwrap_or_default(),
        p99,
        worst_plain,
        worst_images,
        n_images: with_images.iter().filter(|w| **w).count(),
    }
}

/// `BENCH_VALUES=out.json`: instead of timing, the proposed (not whitelisted) values of every
/// input, `{input: {"kind:value": ["location kind:name"]}}`, for `benches/extract/compare.py`
/// to compare two builds without building the `harpoon` binary twice.
fn write_values(path: &Path, inputs: &[(String, Vec<u8>)]) {
    let opts = ExtractOptions::default();
    let mut out = serde_json::Map::new();
    for (name, raw) in inputs {
        let x = serde_json::to_value(extract(raw, &opts)).unwrap_or_default();
        let texts = x.get("texts").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
        let mut vals = serde_json::Map::new();
        let observables = x.get("observables").and_then(serde_json::Value::as_array);
        for o in observables
            .into_iter()
            .flatten()
            .filter(|o| o.get("whitelisted").is_none_or(serde_json::Value::is_null))
        {
            let key = format!("{}:{}", o["kind"].as_str().unwrap_or(""), o["value"].as_str().unwrap_or(""));
            let locs: Vec<serde_json::Value> = o["provenance"]
                .as_array()
                .into_iter()
                .flatten()
                .take(1)
                .map(|p| {
                    let t = texts.get(p["text"].as_u64().unwrap_or(0) as usize);
                    let loc = t.map_or(&serde_json::Value::Null, |t| &t["location"]);
                    let what = ["name", "image", "content_type"].iter().find_map(|k| loc[*k].as_str());
                    format!("{}:{}", loc["kind"].as_str().unwrap_or(""), what.unwrap_or("")).into()
                })
                .collect();
            vals.insert(key, locs.into());
        }
        out.insert(name.clone(), vals.into());
    }
    let _ = std::fs::write(path, serde_json::to_string(&out).unwrap_or_default());
}

fn main() {
    let dir = std::env::var_os("HARPOON_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let values_out = std::env::var_os("BENCH_VALUES").map(PathBuf::from);
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for folder in ["phishing", "msg", "benign"] {
        let mut files = Vec::new();
        files_under(&dir.join(folder), &mut files);
        let inputs: Vec<(String, Vec<u8>)> = files
            .iter()
            .filter_map(|p| {
                let name = p.strip_prefix(&dir).unwrap_or(p).display().to_string();
                std::fs::read(p).ok().map(|b| (name, b))
            })
            .collect();
        if inputs.is_empty() {
            eprintln!("no corpus at {}/{folder}; set HARPOON_CORPUS", dir.display());
            continue;
        }
        rows.push(bench(folder, &inputs, rounds));
        all.extend(inputs);
    }
    if let Some(path) = &values_out {
        write_values(path, &all);
        return;
    }
    if !all.is_empty() {
        rows.push(bench("all corpus", &all, rounds));
    }
    let hostile: Vec<(String, Vec<u8>)> = vec![
        ("1 MB single line".into(), format!("Subject: x\r\n\r\n{}", "abcdefgh".repeat(131_072)).into_bytes()),
        ("10,000 dots".into(), format!("Subject: x\r\n\r\n{}", "a.".repeat(10_000)).into_bytes()),
        ("1 MB of dots".into(), format!("Subject: x\r\n\r\n{}", ".".repeat(1 << 20)).into_bytes()),
        ("1 MB dotted digits".into(), format!("Subject: x\r\n\r\n{}", "1.".repeat(1 << 19)).into_bytes()),
        ("1 MB of @".into(), format!("Subject: x\r\n\r\n{}", "a@".repeat(1 << 19)).into_bytes()),
        ("1 MB hex".into(), format!("Subject: x\r\n\r\n{}", "0123456789abcdef".repeat(1 << 16)).into_bytes()),
        ("1 MB URLs".into(), format!("Subject: x\r\n\r\n{}", "http://a.com/ ".repeat(75_000)).into_bytes()),
        ("1 MB defanged".into(), format!("Subject: x\r\n\r\n{}", "x[.]y ".repeat(175_000)).into_bytes()),
        (
            "1 MB unclosed tags".into(),
            format!("Content-Type: text/html\r\n\r\n{}", "<a href=\"x ".repeat(95_000)).into_bytes(),
        ),
        ("1 MB header line".into(), format!("Subject: {}\r\n\r\nx", "a.b ".repeat(1 << 18)).into_bytes()),
    ];
    // `BENCH_HOSTILE=0`: the corpus rows only (profiling one email under callgrind).
    let hostile = if std::env::var("BENCH_HOSTILE").is_ok_and(|v| v == "0") { Vec::new() } else { hostile };
    for (name, raw) in &hostile {
        rows.push(bench(
            &format!("hostile: {name}"),
            std::slice::from_ref(&(name.clone(), raw.clone())),
            rounds,
        ));
    }
    println!(
        "\n{:<28} {:>6} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}  worst email",
        "input", "files", "MB", "MB/s", "MB/cpu-s", "emails/s", "p99 ms", "worst ms"
    );
    for r in &rows {
        let mb = r.bytes as f64 / 1e6;
        let s = r.best_total.as_secs_f64().max(1e-9);
        println!(
            "{:<28} {:>6} {:>9.2} {:>9.1} {:>9} {:>10.0} {:>10.2} {:>10.2}  {}",
            r.label,
            r.files,
            mb,
            mb / s,
            r.cpu_mb_s.map_or("-".to_owned(), |c| format!("{c:.1}")),
            r.files as f64 / s,
            r.p99.as_secs_f64() * 1e3,
            r.worst.as_secs_f64() * 1e3,
            r.worst_name
        );
    }
    println!(
        "\n{:<28} {:>6} {:>10}  {:<58} {:>6} {:>10}  worst email with images (QR codes read)",
        "input", "plain", "worst ms", "worst email without images", "images", "worst ms"
    );
    let ms = |w: &Option<(Duration, String)>| {
        w.as_ref().map_or("-".to_owned(), |(d, _)| format!("{:.2}", d.as_secs_f64() * 1e3))
    };
    let name = |w: &Option<(Duration, String)>| w.as_ref().map_or("-".to_owned(), |(_, n)| n.clone());
    for r in rows.iter().filter(|r| !r.label.starts_with("hostile")) {
        let n_images = r.n_images;
        println!(
            "{:<28} {:>6} {:>10}  {:<58} {:>6} {:>10}  {}",
            r.label,
            r.files - n_images,
            ms(&r.worst_plain),
            name(&r.worst_plain),
            n_images,
            ms(&r.worst_images),
            name(&r.worst_images)
        );
    }
}
