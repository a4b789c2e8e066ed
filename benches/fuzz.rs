//! A mutation fuzzer for each parser of `extract/` (`harpoon::extract::fuzzing::Target`), run
//! for a given time (`scripts/fuzz <target> --minutes N`). Not a benchmark: it lives here to be
//! built with the release profile, outside `cargo test`.
//!
//! No coverage feedback (libFuzzer needs a nightly compiler, this machine has stable only):
//! seeds from the corpus and the fixtures (whole files, and the attachments and `.msg` streams
//! inside them that the target reads), 1–8 stacked mutations each (bit flips, interesting
//! integers, inserts, deletes, duplicated or spliced ranges, format tokens, truncation).
//!
//! Two processes: the parent supervises, a child (this binary with `--worker`) runs the loop.
//! Before each input the child writes which seed and which mutation seed it is about to run,
//! so anything that kills it — an abort, a stack overflow, running out of the memory the
//! parent's `ulimit -v` allows — or hangs it is rebuilt by the parent from those two numbers and
//! saved. A panic is caught in the child and saved the same way. Findings go to
//! `target/fuzz/<target>/` as `panic-*.bin`, `abort-*.bin`, `hang-*.bin`; once fixed, they are
//! copied to `tests/fixtures/fuzz/<target>/`, which `tests/api/fuzz_regressions.rs` replays.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use harpoon::extract::fuzzing::{Target, run, seeds_from};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Seeds larger than this are left out: a run should try many inputs a second.
const MAX_SEED: usize = 2 << 20;
const MAX_SEEDS: usize = 600;
/// An input running longer than this is a hang.
const HANG: Duration = Duration::from_secs(30);

fn usage() -> ExitCode {
    eprintln!(
        "usage: fuzz <target> [--minutes N] [--seeds DIR]... [--out DIR]\n  targets: {}",
        Target::ALL.map(Target::name).join(" ")
    );
    ExitCode::from(2)
}

struct Args {
    target: Target,
    minutes: f64,
    seeds: Vec<PathBuf>,
    out: PathBuf,
    worker: bool,
    rng_seed: u64,
}

fn parse_args() -> Option<Args> {
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut target = None;
    let mut a = Args {
        target: Target::Eml,
        minutes: 1.0,
        seeds: Vec::new(),
        out: PathBuf::new(),
        worker: false,
        rng_seed: 0,
    };
    let mut out = None;
    while let Some(x) = it.next() {
        match x.as_str() {
            "--minutes" => a.minutes = it.next()?.parse().ok()?,
            "--seeds" => a.seeds.push(it.next()?.into()),
            "--out" => out = Some(PathBuf::from(it.next()?)),
            "--worker" => a.worker = true,
            "--rng" => a.rng_seed = it.next()?.parse().ok()?,
            t => target = Some(Target::parse(t)?),
        }
    }
    a.target = target?;
    if a.seeds.is_empty() {
        let corpus = std::env::var("HARPOON_CORPUS").unwrap_or_else(|_| "../shared/corpus".into());
        a.seeds = vec![corpus.into(), "tests/fixtures".into()];
    }
    a.out = out.unwrap_or_else(|| Path::new("target/fuzz").join(a.target.name()));
    Some(a)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The seeds, in a fixed order (parent and child must agree on the indices).
fn seeds(a: &Args) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for d in &a.seeds {
        files_under(d, &mut files);
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else { continue };
        if bytes.len() > 16 * MAX_SEED {
            continue;
        }
        for s in seeds_from(a.target, &bytes) {
            if s.len() <= MAX_SEED && seen.insert(s.clone()) {
                out.push(s);
            }
        }
        if out.len() >= MAX_SEEDS {
            break;
        }
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

fn tokens(t: Target) -> &'static [&'static [u8]] {
    match t {
        Target::Eml | Target::Mbox => &[
            b"\r\n\r\n",
            b"\n--",
            b"--\r\n",
            b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Content-Transfer-Encoding: base64\r\n",
            b"Content-Transfer-Encoding: quoted-printable\r\n",
            b"=?utf-8?B?",
            b"?=",
            b"From ",
            b"Received: from x ([1.2.3.4])\r\n",
            b"<a href=\"http://x.example/\">",
            b"=\r\n",
        ],
        Target::Html => {
            &[b"<a href=", b"<script>", b"</script>", b"&#", b"%3C", b"unescape(\"", b"atob('", b"data:"]
        }
        Target::Pdf => &[
            b" obj",
            b"endobj",
            b"stream\n",
            b"endstream",
            b"<<",
            b">>",
            b"/FlateDecode",
            b"/ObjStm",
            b"/URI",
            b"/N 3",
        ],
        Target::Rtf => &[b"{\\", b"}", b"\\'e9", b"\\u1234", b"{\\*\\htmltag", b"\\bin", b"\\par"],
        _ => &[b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\xfe\xff\xff\xff"],
    }
}

fn mutate(target: Target, seeds: &[Vec<u8>], idx: usize, mseed: u64) -> Vec<u8> {
    let mut r = StdRng::seed_from_u64(mseed);
    let mut d = seeds.get(idx).cloned().unwrap_or_default();
    let n = r.gen_range(1..=8);
    for _ in 0..n {
        let len = d.len();
        let pos = if len == 0 { 0 } else { r.gen_range(0..len) };
        match r.gen_range(0..10) {
            0 if len > 0 => {
                if let Some(b) = d.get_mut(pos) {
                    *b ^= 1 << r.gen_range(0..8);
                }
            }
            1 if len > 0 => {
                if let Some(b) = d.get_mut(pos) {
                    *b = r.r#gen();
                }
            }
            2 => {
                let v: [u32; 8] = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff];
                let x = v.get(r.gen_range(0..v.len())).copied().unwrap_or(0);
                let bytes = if r.gen_bool(0.5) { x.to_le_bytes() } else { x.to_be_bytes() };
                let w = [1usize, 2, 4].get(r.gen_range(0..3)).copied().unwrap_or(4);
                for (k, b) in bytes.iter().take(w).enumerate() {
                    if let Some(t) = d.get_mut(pos + k) {
                        *t = *b;
                    }
                }
            }
            3 => {
                let k = r.gen_range(1..=64);
                let ins: Vec<u8> = (0..k).map(|_| r.r#gen()).collect();
                d.splice(pos..pos, ins);
            }
            4 if len > 0 => {
                let end = (pos + r.gen_range(1..=256)).min(len);
                d.drain(pos..end);
            }
            5 if len > 0 => {
                // Duplicate a range (repeated structures: parts, entries, nesting).
                let end = (pos + r.gen_range(1..=4096)).min(len);
                let chunk: Vec<u8> = d.get(pos..end).map(<[u8]>::to_vec).unwrap_or_default();
                let at = r.gen_range(0..=len);
                for _ in 0..r.gen_range(1..=4) {
                    d.splice(at..at, chunk.iter().copied());
                }
            }
            6 => {
                let other =
                    seeds.get(r.gen_range(0..seeds.len().max(1))).map(Vec::as_slice).unwrap_or_default();
                if !other.is_empty() {
                    let s = r.gen_range(0..other.len());
                    let e = (s + r.gen_range(1..=4096)).min(other.len());
                    let piece = other.get(s..e).unwrap_or_default().to_vec();
                    d.splice(pos..pos, piece);
                }
            }
            7 => {
                let t = tokens(target);
                let tok = t.get(r.gen_range(0..t.len())).copied().unwrap_or_default();
                d.splice(pos..pos, tok.iter().copied());
            }
            8 if len > 0 => d.truncate(pos),
            _ => {
                if len > 1 {
                    let a = r.gen_range(0..len);
                    let b = r.gen_range(0..len);
                    d.swap(a, b);
                }
            }
        }
    }
    d
}

fn save(out: &Path, kind: &str, data: &[u8], note: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    let _ = std::fs::create_dir_all(out);
    let p = out.join(format!("{kind}-{:016x}.bin", h.finish()));
    let _ = std::fs::write(&p, data);
    let _ = std::fs::write(p.with_extension("txt"), note);
    p
}

/// The child: runs inputs until the deadline, writing `idx mseed` before each and its count
/// of inputs run to `stats`.
fn worker(a: &Args) -> ExitCode {
    let seeds = seeds(a);
    let state_path = a.out.join("state");
    let Ok(mut state) = std::fs::File::create(&state_path) else {
        return ExitCode::from(3);
    };
    let deadline = Instant::now() + Duration::from_secs_f64(a.minutes * 60.0);
    let mut r = StdRng::seed_from_u64(a.rng_seed);
    let mut runs: u64 = 0;
    let mut last_stats = Instant::now();
    std::panic::set_hook(Box::new(|_| {}));
    while Instant::now() < deadline {
        let idx = r.gen_range(0..seeds.len());
        let mseed: u64 = r.r#gen();
        let _ = state.seek(SeekFrom::Start(0));
        let _ = writeln!(state, "{idx:>12} {mseed:>20} {runs:>14}");
        let input = mutate(a.target, &seeds, idx, mseed);
        let t = a.target;
        if let Err(p) = std::panic::catch_unwind(|| run(t, &input)) {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            save(&a.out, "panic", &input, &format!("panic: {msg}\nseed {idx} mutation {mseed}\n"));
        }
        runs += 1;
        if last_stats.elapsed() > Duration::from_secs(1) {
            last_stats = Instant::now();
            let _ = std::fs::write(a.out.join("stats"), format!("{runs} {}\n", seeds.len()));
        }
    }
    let _ = std::fs::write(a.out.join("stats"), format!("{runs} {}\n", seeds.len()));
    ExitCode::SUCCESS
}

fn read_state(p: &Path) -> Option<(usize, u64, u64)> {
    let s = std::fs::read_to_string(p).ok()?;
    let mut w = s.split_whitespace();
    Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?, w.next()?.parse().ok()?))
}

fn main() -> ExitCode {
    // `cargo test --all-targets` runs every bench without arguments: nothing to fuzz then.
    if std::env::args().len() <= 1 {
        eprintln!("fuzz: no target given; run `scripts/fuzz <target> --minutes N`");
        return ExitCode::SUCCESS;
    }
    let Some(a) = parse_args() else {
        return usage();
    };
    if a.worker {
        return worker(&a);
    }
    let _ = std::fs::create_dir_all(&a.out);
    let seeds = seeds(&a);
    eprintln!(
        "fuzz {}: {} seeds, {} minutes, findings in {}",
        a.target.name(),
        seeds.len(),
        a.minutes,
        a.out.display()
    );
    let Ok(me) = std::env::current_exe() else {
        return ExitCode::from(3);
    };
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(a.minutes * 60.0);
    let (mut total_runs, mut aborts, mut hangs) = (0u64, 0u32, 0u32);
    let mut round = 0u64;
    while Instant::now() < end {
        round += 1;
        let left = end.saturating_duration_since(Instant::now()).as_secs_f64() / 60.0;
        let Ok(status) = supervise(&me, &a, round, left) else {
            eprintln!("cannot start the worker");
            return ExitCode::from(3);
        };
        let runs = std::fs::read_to_string(a.out.join("stats"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()));
        let state = read_state(&a.out.join("state"));
        total_runs += runs.unwrap_or(0).max(state.map_or(0, |s| s.2));
        match status {
            Some(st) if st.success() => {}
            other => {
                let Some((idx, mseed, _)) = state else { continue };
                let input = mutate(a.target, &seeds, idx, mseed);
                let kind = if other.is_none() { "hang" } else { "abort" };
                if other.is_none() {
                    hangs += 1;
                } else {
                    aborts += 1;
                }
                let p =
                    save(&a.out, kind, &input, &format!("{kind}: {other:?}\nseed {idx} mutation {mseed}\n"));
                eprintln!("{kind}: {}", p.display());
            }
        }
    }
    let panics = panics_in(&a.out);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| {} | {} | {:.1} | {} | {:.0} | {} | {} | {} |",
        a.target.name(),
        seeds.len(),
        secs / 60.0,
        total_runs,
        total_runs as f64 / secs.max(1.0),
        panics,
        aborts,
        hangs
    );
    if panics + aborts as usize + hangs as usize > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// One worker process fuzzing for the `left` minutes, watched: its exit status, or `None` when
/// it stopped making progress for `HANG` and was killed.
fn supervise(
    me: &Path,
    a: &Args,
    round: u64,
    left: f64,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let _ = std::fs::remove_file(a.out.join("stats"));
    let mut cmd = Command::new(me);
    cmd.arg(a.target.name()).arg("--worker").arg("--minutes").arg(left.to_string());
    cmd.arg("--out").arg(&a.out).arg("--rng").arg((round * 0x9E37_79B9).to_string());
    for s in &a.seeds {
        cmd.arg("--seeds").arg(s);
    }
    let mut child = cmd.spawn()?;
    let mut last = None;
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        if let Ok(Some(st)) = child.try_wait() {
            return Ok(Some(st));
        }
        let now = read_state(&a.out.join("state"));
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
    }
}

/// How many panics the workers saved in `out`.
fn panics_in(out: &Path) -> usize {
    std::fs::read_dir(out)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name().to_string_lossy().starts_with("panic-")
                        && e.file_name().to_string_lossy().ends_with(".bin")
                })
                .count()
        })
        .unwrap_or(0)
}
