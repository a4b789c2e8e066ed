//! Script operations (protocol in docs/operations.md): an executable in the configured directory
//! with a manifest `NAME.json` beside it. A run starts the executable in its own process group
//! with an empty environment (only `PATH` and `LANG`), writes the input JSON (version 1: the
//! indicator, the run's parameters, the configured values of the keys the manifest declares) on
//! its stdin, and reads the result JSON (version 1) from its stdout. Output is capped, stderr and
//! the exit status are kept, and at the timeout the whole process group is killed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{Findings, Node, OpError, OperationInfo, ParamSpec, ParamType, Sighted, Subject};
use crate::extract::{IndicatorValue, ObservableKind};
use crate::service::indicators::Status;
use crate::settings::ScriptSettings;

/// The protocol version of the input and the result.
pub const PROTOCOL_VERSION: u64 = 1;
/// Stderr kept in a run (its end: where the error usually is).
const STDERR_KEPT: usize = 4000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestParam {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    default: Value,
    #[serde(default)]
    description: String,
}

/// `NAME.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    version: u64,
    name: String,
    description: String,
    applies_to: Vec<String>,
    /// The executable's file name in the directory (default: the manifest's name without `.json`).
    #[serde(default)]
    executable: Option<String>,
    #[serde(default)]
    timeout_secs: Option<u64>,
    #[serde(default)]
    max_concurrent: Option<usize>,
    /// Configuration keys the script reads (values from `operations.scripts.config.NAME`).
    #[serde(default)]
    config: Vec<String>,
    #[serde(default)]
    parameters: Vec<ManifestParam>,
}

/// A script operation, ready to run.
#[derive(Debug, Clone)]
pub struct Script {
    info: OperationInfo,
    executable: PathBuf,
    dir: PathBuf,
    timeout: Option<Duration>,
    max_concurrent: Option<usize>,
    config: BTreeMap<String, String>,
    path_env: String,
    max_output: usize,
}

/// Every manifest in `dir`, each read into a script or the reason it cannot be.
pub fn discover(dir: &Path, settings: &ScriptSettings) -> Vec<Result<Script, String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return vec![Err(format!("cannot read the operations directory {}: {e}", dir.display()))],
    };
    let mut manifests: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    manifests.sort();
    manifests.iter().map(|m| load(m, dir, settings)).collect()
}

fn load(manifest_path: &Path, dir: &Path, settings: &ScriptSettings) -> Result<Script, String> {
    let shown = manifest_path.display();
    let text = std::fs::read_to_string(manifest_path).map_err(|e| format!("{shown}: {e}"))?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
    if m.version != PROTOCOL_VERSION {
        return Err(format!("{shown}: version {} (this Harpoon speaks {PROTOCOL_VERSION})", m.version));
    }
    let name_ok = !m.name.is_empty()
        && m.name.len() <= 64
        && m.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !name_ok {
        return Err(format!("{shown}: name '{}' must be 1-64 of a-z, 0-9, - and _", m.name));
    }
    if m.applies_to.is_empty() {
        return Err(format!("{shown}: applies_to lists no indicator type"));
    }
    if let Some(bad) = m.applies_to.iter().find(|k| ObservableKind::from_name(k).is_none()) {
        return Err(format!("{shown}: unknown indicator type '{bad}' in applies_to"));
    }
    let stem = manifest_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let file = m.executable.clone().unwrap_or(stem);
    if file.contains('/') || file.starts_with('.') {
        return Err(format!("{shown}: executable '{file}' must be a file name in the directory"));
    }
    let executable = dir.join(&file);
    let meta =
        std::fs::metadata(&executable).map_err(|e| format!("{shown}: {}: {e}", executable.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Err(format!("{shown}: {} is not an executable file", executable.display()));
        }
    }
    let mut parameters = Vec::new();
    for p in &m.parameters {
        let kind = match p.kind.as_str() {
            "integer" => ParamType::Integer,
            "string" => ParamType::String,
            "boolean" => ParamType::Boolean,
            other => return Err(format!("{shown}: parameter {} has unknown type '{other}'", p.name)),
        };
        parameters.push(ParamSpec {
            name: p.name.clone(),
            kind,
            default: p.default.clone(),
            description: p.description.clone(),
        });
    }
    let configured = settings.config.get(&m.name).cloned().unwrap_or_default();
    if let Some(extra) = configured.keys().find(|k| !m.config.contains(k)) {
        return Err(format!(
            "operations.scripts.config.{}: '{extra}' is not a key its manifest declares",
            m.name
        ));
    }
    Ok(Script {
        info: OperationInfo {
            name: m.name.clone(),
            description: m.description.clone(),
            applies_to: m.applies_to.clone(),
            parameters,
        },
        executable,
        dir: dir.to_path_buf(),
        timeout: m.timeout_secs.map(|s| Duration::from_secs(s.max(1))),
        max_concurrent: m.max_concurrent,
        config: m.config.iter().filter_map(|k| configured.get(k).map(|v| (k.clone(), v.clone()))).collect(),
        path_env: settings.path.clone(),
        max_output: settings.max_output_bytes.max(1024),
    })
}

// ---- the result a script prints ----------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultV1 {
    version: u64,
    #[serde(default)]
    observables: Vec<ObservableV1>,
    #[serde(default)]
    relationships: Vec<RelationshipV1>,
    #[serde(default)]
    sightings: Vec<SightingV1>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    sample: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservableV1 {
    #[serde(rename = "type")]
    kind: String,
    value: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum NodeV1 {
    /// `"indicator"`: the run's indicator.
    Named(String),
    Value {
        #[serde(rename = "type")]
        kind: String,
        value: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationshipV1 {
    source: NodeV1,
    #[serde(rename = "type")]
    rel_type: String,
    target: NodeV1,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SightingV1 {
    count: u32,
    first_seen: String,
    last_seen: String,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

const RELATIONSHIP_TYPES: [&str; 2] = ["related-to", "resolves-to"];

fn kind_of(text: &str) -> Result<ObservableKind, String> {
    ObservableKind::from_name(text).ok_or_else(|| format!("unknown indicator type '{text}'"))
}

fn node(n: &NodeV1) -> Result<Node, String> {
    match n {
        NodeV1::Named(s) if s == "indicator" => Ok(Node::Subject),
        NodeV1::Named(s) => Err(format!("a relationship end is \"indicator\" or {{type, value}}, not '{s}'")),
        NodeV1::Value { kind, value } => Ok(Node::Value(kind_of(kind)?, value.clone())),
    }
}

fn time_of(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|e| format!("'{text}' is not an RFC 3339 time: {e}"))
}

/// The findings of a result text (the whole result is refused at the first error).
fn parse_result(text: &str, subject: &Subject) -> Result<Findings, String> {
    let r: ResultV1 = serde_json::from_str(text).map_err(|e| format!("not a result object: {e}"))?;
    if r.version != PROTOCOL_VERSION {
        return Err(format!("version {} (expected {PROTOCOL_VERSION})", r.version));
    }
    let mut f = Findings::default();
    for o in &r.observables {
        let kind = kind_of(&o.kind)?;
        let v = IndicatorValue::parse(kind, &o.value)
            .map_err(|_| format!("'{}' is not a valid {}", o.value, o.kind))?;
        // Scripts propose; only an analyst makes an indicator Active.
        let status = match o.status.as_deref() {
            None | Some("indirect") => Status::Indirect,
            Some("review") => Status::Review,
            Some(other) => return Err(format!("observable status '{other}' (use indirect or review)")),
        };
        f.observe(kind, &v.value, status);
    }
    for rel in &r.relationships {
        if !RELATIONSHIP_TYPES.contains(&rel.rel_type.as_str()) {
            return Err(format!("relationship type '{}' (use related-to or resolves-to)", rel.rel_type));
        }
        f.relate(node(&rel.source)?, &rel.rel_type, node(&rel.target)?);
    }
    for s in &r.sightings {
        if s.count == 0 {
            return Err("a sighting's count must be at least 1".into());
        }
        let (first, last) = (time_of(&s.first_seen)?, time_of(&s.last_seen)?);
        if last < first {
            return Err("a sighting's last_seen is before its first_seen".into());
        }
        f.sightings.push(Sighted {
            count: s.count,
            first_seen: first,
            last_seen: last,
            hosts: s.hosts.clone(),
            description: s
                .description
                .clone()
                .unwrap_or_else(|| format!("{} found {}", subject.value, s.count)),
        });
    }
    f.notes = r.notes.into_iter().filter(|n| !n.trim().is_empty()).collect();
    f.hosts = r.hosts;
    f.sample = r.sample.into_iter().take(20).collect();
    Ok(f)
}

// ---- running ------------------------------------------------------------------------------

/// Reads to the end, keeping at most `cap` bytes; true when more came.
async fn read_capped(reader: Option<impl AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, bool) {
    let Some(mut reader) = reader else { return (Vec::new(), false) };
    let mut kept = Vec::new();
    let mut more = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default();
                let room = cap.saturating_sub(kept.len());
                if chunk.len() > room {
                    more = true;
                }
                kept.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            }
        }
    }
    (kept, more)
}

/// Kills the script's whole process group (it was started as the group's leader), so children
/// it left behind die with it. Called while the leader is not yet reaped: its id cannot have
/// been given to another process, so the signal reaches this group and no other.
fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw) else {
        return;
    };
    // ESRCH (the group is gone already) is the expected case of a script that ended cleanly.
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// Resolves when the leader has exited, without reaping it (`waitid` with `WNOWAIT`), so that
/// the group can still be killed safely by [`kill_group`].
async fn exited_unreaped(pid: Option<u32>) {
    use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).and_then(Pid::from_raw) else { return };
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
    let mut pause = Duration::from_millis(1);
    loop {
        match waitid(WaitId::Pid(pid), options) {
            Ok(None) => {}
            // Exited (or cannot be waited for at all: then `wait` below says why).
            Ok(Some(_)) | Err(_) => return,
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn tail(bytes: &[u8], keep: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let chars: Vec<char> = text.chars().collect();
    chars.get(chars.len().saturating_sub(keep)..).unwrap_or_default().iter().collect()
}

impl Script {
    pub fn info(&self) -> OperationInfo {
        self.info.clone()
    }

    pub fn timeout(&self, default: Duration) -> Duration {
        self.timeout.unwrap_or(default)
    }

    /// Cuts a manifest's timeout to `max` (a manifest may say `u64::MAX`); true if it was cut.
    pub fn cap_timeout(&mut self, max: Duration) -> bool {
        match self.timeout {
            Some(t) if t > max => {
                self.timeout = Some(max);
                true
            }
            _ => false,
        }
    }

    /// Gives a script whose manifest sets no timeout the server's default.
    pub fn set_default_timeout(&mut self, default: Duration) {
        self.timeout.get_or_insert(default);
    }

    pub fn max_concurrent(&self) -> Option<usize> {
        self.max_concurrent
    }

    pub async fn run(&self, subject: &Subject, params: &Map<String, Value>) -> Result<Findings, OpError> {
        let timeout = self.timeout(Duration::from_secs(60));
        let input = json!({
            "version": PROTOCOL_VERSION,
            "operation": self.info.name,
            "run_id": subject.run_id,
            "indicator": { "id": subject.indicator_id, "type": subject.kind.as_str(), "value": subject.value },
            "parameters": params,
            "config": self.config,
        })
        .to_string();
        let mut cmd = tokio::process::Command::new(&self.executable);
        cmd.env_clear()
            .env("PATH", &self.path_env)
            .env("LANG", "C.UTF-8")
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| OpError::Failed(format!("cannot start {}: {e}", self.executable.display())))?;
        let pid = child.id();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let cap = self.max_output;
        let work = async {
            let write = async move {
                if let Some(mut s) = stdin {
                    // A script that does not read its input is its business.
                    let _ = s.write_all(input.as_bytes()).await;
                    let _ = s.shutdown().await;
                }
            };
            let (_, out, err) = tokio::join!(write, read_capped(stdout, cap), read_capped(stderr, cap));
            exited_unreaped(pid).await;
            (out, err)
        };
        let result = tokio::time::timeout(timeout, work).await;
        // Whatever happened, nothing of the script outlives its run: the group is killed before
        // its leader is reaped (by the `wait` just below).
        kill_group(pid);
        let status = child.wait().await;
        let ((stdout, stdout_more), (stderr, _)) = match result {
            Ok(r) => r,
            Err(_) => {
                return Err(OpError::TimedOut(format!(
                    "the script ran longer than its {} s timeout and was killed",
                    timeout.as_secs()
                )));
            }
        };
        let status = status.map_err(|e| OpError::Failed(format!("waiting for the script: {e}")))?;
        let stderr_text = tail(&stderr, STDERR_KEPT);
        let why = |what: String| {
            let err = stderr_text.trim();
            if err.is_empty() { what } else { format!("{what}; stderr: {err}") }
        };
        if !status.success() {
            let what = match status.code() {
                Some(code) => format!("the script exited with status {code}"),
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    format!("the script was killed by signal {}", status.signal().unwrap_or(0))
                }
            };
            return Err(OpError::Failed(why(what)));
        }
        if stdout_more {
            return Err(OpError::Failed(why(format!("the script printed more than {cap} bytes"))));
        }
        let text = String::from_utf8(stdout)
            .map_err(|_| OpError::Failed(why("the script's output is not UTF-8".into())))?;
        let mut f = parse_result(&text, subject).map_err(|e| {
            OpError::Failed(why(format!(
                "the script's output is not a version {PROTOCOL_VERSION} result: {e}"
            )))
        })?;
        f.extra.insert("exit_status".into(), json!(status.code()));
        f.extra.insert("stderr".into(), json!(stderr_text));
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject { indicator_id: 1, kind: ObservableKind::Ipv4, value: "82.118.16.98".into(), run_id: 1 }
    }

    #[test]
    fn results_are_read_strictly() {
        let ok = r#"{"version":1,"observables":[{"type":"domain","value":"Evil-Domain-Test.com"}],
            "relationships":[{"source":"indicator","type":"related-to","target":{"type":"domain","value":"evil-domain-test.com"}}],
            "sightings":[{"count":2,"first_seen":"2026-11-30T10:00:00Z","last_seen":"2026-11-30T11:00:00Z","hosts":["10.1.2.3"]}],
            "notes":["seen twice"]}"#;
        let f = parse_result(ok, &subject()).expect("valid");
        assert_eq!(f.observables.first().map(|o| o.value.as_str()), Some("evil-domain-test.com"));
        assert_eq!(f.relationships.len(), 1);
        assert_eq!(f.sightings.first().map(|s| s.count), Some(2));
        for bad in [
            r#"{"version":2}"#,
            r#"{"version":1,"observables":[{"type":"domain","value":"not a domain"}]}"#,
            r#"{"version":1,"observables":[{"type":"domain","value":"a.example","status":"active"}]}"#,
            r#"{"version":1,"relationships":[{"source":"me","type":"related-to","target":"indicator"}]}"#,
            r#"{"version":1,"sightings":[{"count":0,"first_seen":"2026-11-30T10:00:00Z","last_seen":"2026-11-30T10:00:00Z"}]}"#,
            r#"{"version":1,"surprise":true}"#,
            "hello",
        ] {
            assert!(parse_result(bad, &subject()).is_err(), "{bad}");
        }
    }
}
