//! Inputs the mutation fuzzer (`scripts/fuzz`, `benches/fuzz.rs`) found to panic, abort or hang a
//! parser, kept after the fix: `tests/fixtures/fuzz/<target>/*.bin`, each replayed through the
//! same entry point the fuzzer used. A regression panics here (or aborts the test binary).

use harpoon::extract::fuzzing::{Target, run};

#[test]
fn every_fuzz_finding_is_replayed_without_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut replayed = 0;
    for t in Target::ALL {
        let Ok(rd) = std::fs::read_dir(root.join(t.name())) else { continue };
        let mut files: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for f in files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "bin")) {
            let bytes = std::fs::read(&f).unwrap();
            let started = std::time::Instant::now();
            run(t, &bytes);
            // Not a speed goal: a finding that hung the parser must now end at all.
            assert!(started.elapsed().as_secs() < 120, "{} still takes {:?}", f.display(), started.elapsed());
            replayed += 1;
        }
    }
    // The directory and its README exist even before the first finding.
    assert!(root.join("README.md").exists());
    eprintln!("{replayed} fuzz findings replayed");
}
