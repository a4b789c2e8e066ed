//! `splunk-search`: one call to Splunk's REST API `POST /services/search/jobs/export` (form
//! parameters `search`, `output_mode=json`, `earliest_time=-Nd`, `latest_time=now`), token
//! (`Authorization: Bearer`) or Basic authentication, over the one HTTP client (`net.rs`). The
//! answer is Splunk's JSON-lines stream (`{"preview":false,"offset":0,"result":{..}}`, the last
//! with `"lastrow":true`); error answers are `{"messages":[{"type":"FATAL","text":".."}]}`.
//! Hits become one sighting of the indicator naming the internal hosts (`src_ip`, `src` or
//! `host` of each event); no hit is a note. The value enters the search only as a quoted term
//! with `"` and `\` escaped, so it cannot change the search.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::{Findings, OpError, OperationInfo, ParamSpec, ParamType, Sighted, Subject};
use crate::net::{Auth, ClientOptions, HttpClient};
use crate::service::ServiceError;
use crate::settings::{HttpClientSettings, SecretRules, SplunkSettings};

pub const NAME: &str = "splunk-search";
const EXPORT_PATH: &str = "/services/search/jobs/export";
/// Event fields naming the internal host, most specific first.
const HOST_FIELDS: [&str; 3] = ["src_ip", "src", "host"];

/// Where the credentials are read from at each run (never kept in memory longer).
#[derive(Debug, Clone)]
enum Credentials {
    TokenEnv(String),
    TokenFile(PathBuf),
    Basic { username: String, password_env: String, password_file: Option<PathBuf> },
    None,
}

#[derive(Debug, Clone)]
pub struct Splunk {
    export_url: String,
    client: HttpClient,
    credentials: Credentials,
    template: String,
    window_days: u32,
    max_rows: u32,
    sample_size: usize,
}

/// `value` as one quoted search term: `"` and `\` escaped, line breaks as spaces.
pub fn quoted_term(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\r' | '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Splunk {
    /// The operation as configured; refused unless the URL is HTTPS (the token or password
    /// crosses it), its secrets come from allowed variables and its CA file from the CA directory.
    pub fn new(
        s: &SplunkSettings,
        http: &HttpClientSettings,
        rules: &SecretRules,
    ) -> Result<Self, ServiceError> {
        let base = s.url.trim().trim_end_matches('/');
        s.check(rules).map_err(ServiceError::Invalid)?;
        let ca_file = match &s.ca_file {
            Some(f) => {
                Some(rules.ca_file(f).map_err(|e| ServiceError::Invalid(format!("operations.splunk.{e}")))?)
            }
            None => None,
        };
        if !s.search_template.contains("{value}") {
            return Err(ServiceError::Invalid(
                "operations.splunk.search_template must contain {value}".into(),
            ));
        }
        let client = HttpClient::new(
            http,
            &ClientOptions {
                ca_file: ca_file.as_deref(),
                timeout: std::time::Duration::from_secs(s.timeout_secs.max(1)),
                identity_pem: None,
            },
        )
        .map_err(|e| ServiceError::Invalid(format!("operations.splunk: {e}")))?;
        let credentials = if !s.token_env.is_empty() {
            Credentials::TokenEnv(s.token_env.clone())
        } else if let Some(f) = &s.token_file {
            Credentials::TokenFile(f.clone())
        } else if !s.username.is_empty() {
            Credentials::Basic {
                username: s.username.clone(),
                password_env: s.password_env.clone(),
                password_file: s.password_file.clone(),
            }
        } else {
            Credentials::None
        };
        Ok(Self {
            export_url: format!("{base}{EXPORT_PATH}"),
            client,
            credentials,
            template: s.search_template.clone(),
            window_days: s.window_days.max(1),
            max_rows: s.max_rows.max(1),
            sample_size: s.sample_size,
        })
    }

    pub fn info(&self) -> OperationInfo {
        OperationInfo {
            name: NAME.into(),
            description: "Searches Splunk for the value over the last N days; hits become a sighting naming the internal hosts".into(),
            applies_to: ["url", "domain", "ipv4", "ipv6", "email", "md5", "sha1", "sha256", "sha512"]
                .into_iter()
                .map(String::from)
                .collect(),
            parameters: vec![ParamSpec {
                name: "days".into(),
                kind: ParamType::Integer,
                default: json!(self.window_days),
                description: "Search the last N days".into(),
            }],
        }
    }

    /// The search sent for a value.
    pub fn search_for(&self, value: &str) -> String {
        let search = self.template.replace("{value}", &quoted_term(value));
        let search = search.trim();
        // The export endpoint needs a generating command first.
        let search = if search.starts_with("search ") || search.starts_with('|') {
            search.to_string()
        } else {
            format!("search {search}")
        };
        format!("{search} | head {}", self.max_rows)
    }

    fn auth(&self) -> Result<Auth, OpError> {
        let read_file = |p: &PathBuf| {
            std::fs::read_to_string(p).map(|t| t.trim().to_string()).map_err(|e| {
                OpError::Failed(format!("cannot read the Splunk credential file {}: {e}", p.display()))
            })
        };
        let env = |name: &str| {
            std::env::var(name)
                .map_err(|_| OpError::Failed(format!("the environment variable {name} is not set")))
        };
        Ok(match &self.credentials {
            Credentials::TokenEnv(name) => Auth::Bearer(env(name)?),
            Credentials::TokenFile(path) => Auth::Bearer(read_file(path)?),
            Credentials::Basic { username, password_env, password_file } => {
                let password = match password_file {
                    Some(p) => read_file(p)?,
                    None => env(password_env)?,
                };
                Auth::Basic { username: username.clone(), password }
            }
            Credentials::None => Auth::None,
        })
    }

    pub async fn run(&self, subject: &Subject, params: &Map<String, Value>) -> Result<Findings, OpError> {
        let days = params.get("days").and_then(Value::as_u64).unwrap_or(u64::from(self.window_days));
        if !(1..=3650).contains(&days) {
            return Err(OpError::Failed(format!("days must be 1-3650, not {days}")));
        }
        let search = self.search_for(&subject.value);
        let form = [
            ("search", search.clone()),
            ("output_mode", "json".to_string()),
            ("earliest_time", format!("-{days}d")),
            ("latest_time", "now".to_string()),
        ];
        let auth = self.auth()?;
        let response = self
            .client
            .post_form(&self.export_url, &form, &auth)
            .await
            .map_err(|e| OpError::Failed(format!("Splunk at {}: {e}", self.export_url)))?;
        let text = String::from_utf8_lossy(&response.body);
        if response.status != 200 {
            let why = messages(&text).unwrap_or_else(|| text.chars().take(300).collect());
            return Err(OpError::Failed(match response.status {
                401 => format!("Splunk refused the credentials (401): {why}"),
                403 => format!("Splunk denied the search (403): {why}"),
                400 => format!("Splunk rejected the search (400): {why}"),
                code => format!("Splunk answered {code}: {why}"),
            }));
        }
        let mut rows: Vec<Map<String, Value>> = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| OpError::Failed(format!("Splunk's answer is not JSON lines: {e}")))?;
            if let Some(fatal) = fatal_messages(&v) {
                return Err(OpError::Failed(format!("Splunk: {fatal}")));
            }
            if v.get("preview").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(Value::Object(result)) = v.get("result") {
                rows.push(result.clone());
            }
        }
        let mut f = Findings::default();
        f.log.push(format!("search: {search}"));
        f.log.push(format!("window: last {days} days; {} events", rows.len()));
        if rows.is_empty() {
            f.notes
                .push(format!("Splunk: no events for {} in the last {days} days ({search})", subject.value));
            return Ok(f);
        }
        let mut times: Vec<i64> = Vec::new();
        let mut hosts: Vec<String> = Vec::new();
        for row in &rows {
            if let Some(t) = row.get("_time").and_then(event_time) {
                times.push(t);
            }
            if let Some(h) = HOST_FIELDS.iter().find_map(|k| row.get(*k).and_then(first_text))
                && !hosts.contains(&h)
            {
                hosts.push(h);
            }
        }
        let now = crate::db::now_micros();
        let first = times.iter().copied().min().unwrap_or(now);
        let last = times.iter().copied().max().unwrap_or(now);
        f.sightings.push(Sighted {
            count: u32::try_from(rows.len()).unwrap_or(u32::MAX),
            first_seen: first,
            last_seen: last,
            hosts: hosts.clone(),
            description: format!("Splunk search over the last {days} days: {search}"),
        });
        f.hosts = hosts;
        f.sample = rows.into_iter().take(self.sample_size).map(Value::Object).collect();
        Ok(f)
    }
}

/// A field's text (Splunk gives multi-valued fields as arrays).
fn first_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Array(a) => a.iter().find_map(first_text),
        _ => None,
    }
}

/// `_time` as Splunk's JSON output writes it (ISO 8601 with offset), or epoch seconds.
fn event_time(v: &Value) -> Option<i64> {
    let text = first_text(v)?;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&text) {
        return Some(t.timestamp_micros());
    }
    if let Ok(t) = chrono::DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f%:z") {
        return Some(t.timestamp_micros());
    }
    text.parse::<f64>().ok().map(|s| (s * 1_000_000.0) as i64)
}

/// The texts of a `{"messages":[..]}` error answer.
fn messages(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    let texts: Vec<String> = v
        .get("messages")?
        .as_array()?
        .iter()
        .filter_map(|m| {
            let kind = m.get("type").and_then(Value::as_str).unwrap_or("");
            m.get("text").and_then(Value::as_str).map(|t| format!("{kind} {t}").trim().to_string())
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

/// FATAL or ERROR messages inside a 200 stream (a search that failed while running).
fn fatal_messages(v: &Value) -> Option<String> {
    let texts: Vec<String> = v
        .get("messages")?
        .as_array()?
        .iter()
        .filter(|m| matches!(m.get("type").and_then(Value::as_str), Some("FATAL" | "ERROR")))
        .filter_map(|m| m.get("text").and_then(Value::as_str).map(str::to_string))
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_value_stays_one_term() {
        assert_eq!(quoted_term(r#"a" | delete | search "b\"#), r#""a\" | delete | search \"b\\""#);
        assert_eq!(quoted_term("x\ny"), "\"x y\"");
    }

    #[test]
    fn times_in_splunk_formats() {
        assert_eq!(event_time(&json!("2026-11-30T10:00:00.000+00:00")), Some(1_796_032_800_000_000));
        assert_eq!(event_time(&json!("1796032800")), Some(1_796_032_800_000_000));
        assert_eq!(event_time(&json!("yesterday")), None);
    }
}
