//! Bridge to the OASIS oracles (python `stix2`, `stix2-validator`, `taxii2-client`) installed by
//! `scripts/python-env`. A missing oracle is a test failure, never a skip.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python: `HARPOON_PYTHON` if set, else `.venv/bin/python`, provisioned on demand.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("HARPOON_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    let out = Command::new(repo_root().join("scripts/python-env"))
        .output()
        .expect("scripts/python-env must run: the oracle tests need the pinned Python tools");
    assert!(out.status.success(), "scripts/python-env failed: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `tests/oracle/<script>` with `input` as JSON on stdin and parses its JSON stdout.
pub fn run(script: &str, input: &serde_json::Value) -> serde_json::Value {
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/oracle").join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python oracle must start");
    let body = serde_json::to_vec(input).expect("oracle input serialises");
    child.stdin.take().expect("stdin is piped").write_all(&body).expect("oracle stdin accepts input");
    let out = child.wait_with_output().expect("oracle finishes");
    assert!(out.status.success(), "oracle {script} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("oracle {script} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

/// Runs `tests/oracle/<script> --lines`: each of `lines` (one JSON document, no newline inside)
/// becomes one stdin line, written from a thread so a large input never deadlocks the pipes.
pub fn run_lines(script: &str, lines: Vec<Vec<u8>>) -> serde_json::Value {
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/oracle").join(script))
        .arg("--lines")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python oracle must start");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut stdin = std::io::BufWriter::new(&mut stdin);
        for line in lines {
            stdin.write_all(&line)?;
            stdin.write_all(b"\n")?;
        }
        stdin.flush()
    });
    let out = child.wait_with_output().expect("oracle finishes");
    writer.join().expect("writer thread").expect("oracle stdin accepts input");
    assert!(out.status.success(), "oracle {script} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("oracle {script} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}
