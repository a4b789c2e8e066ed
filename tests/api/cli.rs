//! The `harpoon` binary: first start, account commands, and one clear line for every bad input.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::helpers::TestDb;

pub(crate) fn harpoon(data_dir: &std::path::Path, url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harpoon"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HARPOON_LOG", "error")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(url);
    cmd
}

fn stderr_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

fn assert_one_clear_error(out: &Output, needle: &str) {
    assert!(!out.status.success(), "must fail: {out:?}");
    let err = stderr_line(out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
}

#[test]
fn bad_database_urls_config_files_and_flags_fail_with_one_line_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let out = harpoon(&data, "postgress://postgres@127.0.0.1/test").arg("migrate").output().unwrap();
    assert_one_clear_error(&out, "unsupported database URL scheme");
    let out = harpoon(&data, "postgres:/postgres@127.0.0.1/test").arg("migrate").output().unwrap();
    assert_one_clear_error(&out, "unsupported database URL scheme");

    let start = std::time::Instant::now();
    let out = harpoon(&data, "postgres://postgres@127.0.0.1:9/test").arg("migrate").output().unwrap();
    assert_one_clear_error(&out, "cannot connect to the database");
    assert!(start.elapsed() < Duration::from_secs(20), "fails fast: {:?}", start.elapsed());

    let out = harpoon(&data, "postgres://nobody:pw@127.0.0.1/no_such_database_here")
        .arg("migrate")
        .output()
        .unwrap();
    assert_one_clear_error(&out, "cannot connect to the database");
    assert!(!stderr_line(&out).contains(":pw@"), "the password is redacted");

    let config = dir.path().join("broken.toml");
    std::fs::write(&config, "[server]\nlisten = \"127.0.0.1:1\"\nlisten_typo = 3\n").unwrap();
    let out = harpoon(&data, "sqlite://x.db").arg("--config").arg(&config).arg("migrate").output().unwrap();
    assert_one_clear_error(&out, "line 3");
    std::fs::write(&config, "this is = = not toml").unwrap();
    let out = harpoon(&data, "sqlite://x.db").arg("--config").arg(&config).arg("migrate").output().unwrap();
    assert_one_clear_error(&out, "broken.toml");
    let out = harpoon(&data, "sqlite://x.db")
        .args(["--config", "/nonexistent/harpoon.toml", "migrate"])
        .output()
        .unwrap();
    assert_one_clear_error(&out, "cannot read config file");

    let out =
        harpoon(&data, "sqlite://x.db").args(["--tls-cert", "/nonexistent.pem", "migrate"]).output().unwrap();
    assert_one_clear_error(&out, "tls_cert and tls_key must be given together");

    assert!(!data.exists(), "no partial state was created");
    assert!(!std::path::Path::new("x.db").exists());
}

#[test]
fn user_and_token_commands_manage_accounts() {
    let test_db = TestDb::fresh();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| harpoon(dir.path(), &test_db.url).args(args).output().unwrap();

    let out = run(&["user", "add", "carol", "--role", "analyst"]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("created user 'carol'") && stdout.contains("password: "), "{stdout}");

    let mut child = harpoon(dir.path(), &test_db.url)
        .args(["user", "add", "dave", "--role", "reader", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"dave-long-password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("password:"), "a given password is not echoed");

    let out = run(&["user", "add", "carol", "--role", "analyst", "--password", "another-long-one"]);
    assert_one_clear_error(&out, "already exists");
    let out = run(&["user", "add", "eve", "--role", "analyst", "--password", "short"]);
    assert_one_clear_error(&out, "too short");

    let out = run(&["user", "list"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("carol") && listing.contains("dave") && listing.contains("reader"), "{listing}");

    let out = run(&["token", "create", "dave", "--label", "firewall"]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(harpoon::service::accounts::split_token(&token).is_some(), "stdout is the token alone: {token}");
    let out = run(&["token", "list", "--user", "dave"]);
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listing.contains("firewall") && listing.contains("live"), "{listing}");
    assert!(!listing.contains(&token));
    let id = listing.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_string();

    let out = run(&["token", "revoke", &id]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    let out = run(&["token", "revoke", &id]);
    assert_one_clear_error(&out, "not found");
    let out = run(&["token", "create", "nobody"]);
    assert_one_clear_error(&out, "no user named 'nobody'");

    let out = run(&["collection", "add", "Partner feed", "--alias", "partner", "--read", "dave"]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    let out = run(&["collection", "add", "Partner feed"]);
    assert_one_clear_error(&out, "already exists");
    let out = run(&["collection", "add", "Other", "--write", "ghost"]);
    assert_one_clear_error(&out, "user 'ghost' not found");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `harpoon serve` on a free port; returns the process and the lines it printed up to
/// the "listening" line.
fn serve(dir: &std::path::Path, url: &str, admin_password: Option<&str>) -> (Server, Vec<String>) {
    let mut cmd = harpoon(dir, url);
    cmd.args(["--listen", "127.0.0.1:0", "serve"]).stdout(Stdio::piped()).stderr(Stdio::null());
    if let Some(pw) = admin_password {
        cmd.env("HARPOON_ADMIN_PASSWORD", pw);
    }
    let mut server = Server(cmd.spawn().unwrap());
    let stdout = server.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let done = line.contains("listening on");
            let _ = tx.send(line);
            if done {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let done = line.contains("listening on");
        lines.push(line);
        if done {
            return (server, lines);
        }
    }
    panic!("serve did not start: {lines:?}");
}

fn base_url(lines: &[String]) -> String {
    let line = lines.iter().find(|l| l.contains("listening on")).unwrap();
    let start = line.find("http://").unwrap();
    line[start..].split_whitespace().next().unwrap().trim_end_matches('/').to_string()
}

#[test]
fn first_start_creates_the_admin_once_and_prints_its_password_once() {
    let test_db = TestDb::fresh();
    let dir = tempfile::tempdir().unwrap();
    let (server, lines) = serve(dir.path(), &test_db.url, None);
    let banner = lines.join("\n");
    let password = banner
        .split("password: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("first start prints the password: {banner}"))
        .to_string();
    let url = base_url(&lines);
    let client = reqwest::blocking_get_me(&url, "admin", &password);
    assert_eq!(client, 200, "the printed password logs in");
    drop(server);

    let (server, lines) = serve(dir.path(), &test_db.url, None);
    let banner = lines.join("\n");
    assert!(!banner.contains("password"), "a second start prints nothing secret: {banner}");
    assert_eq!(reqwest::blocking_get_me(&base_url(&lines), "admin", &password), 200);
    drop(server);
}

#[test]
fn first_start_uses_the_preset_admin_password() {
    let test_db = TestDb::fresh();
    let dir = tempfile::tempdir().unwrap();
    let (_server, lines) = serve(dir.path(), &test_db.url, Some("preset-admin-password"));
    let banner = lines.join("\n");
    assert!(
        banner.contains("HARPOON_ADMIN_PASSWORD") && !banner.contains("preset-admin-password"),
        "{banner}"
    );
    assert_eq!(reqwest::blocking_get_me(&base_url(&lines), "admin", "preset-admin-password"), 200);
}

#[test]
fn the_example_config_is_generated_from_the_defaults() {
    let out = Command::new(env!("CARGO_BIN_EXE_harpoon")).args(["config", "example"]).output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(crate::oracle::repo_root().join("docs/harpoon.example.toml")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "docs/harpoon.example.toml is stale: run `cargo run -- config example > docs/harpoon.example.toml`"
    );
}

/// A tiny synchronous GET for the CLI tests, which run without an async runtime.
mod reqwest {
    pub fn blocking_get_me(base: &str, user: &str, password: &str) -> u16 {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            ::reqwest::Client::new()
                .get(format!("{base}/api/v1/me"))
                .basic_auth(user, Some(password))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
    }
}

#[test]
fn import_takes_files_directories_and_mbox_and_one_bad_message_never_stops_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::fresh();
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(mail.join("nested")).unwrap();
    let msg = |n: u32| {
        format!(
            "From: bad{n}@phisher-example.net\r\nTo: user{n}@acme-corp.com\r\nSubject: Parcel {n}\r\n\
Message-ID: <parcel-{n}@phisher-example.net>\r\n\r\nTrack it at http://track{n}.parcel-phish.com/p\r\n"
        )
    };
    std::fs::write(mail.join("one.eml"), msg(1)).unwrap();
    std::fs::write(mail.join("nested/two.eml"), msg(2)).unwrap();
    std::fs::write(mail.join("empty.eml"), "   \r\n").unwrap();
    let mbox = format!(
        "From a@b Thu Jan  1 00:00:00 2024\n{}\nFrom c@d Thu Jan  1 00:00:00 2024\n{}\n",
        msg(3),
        msg(4)
    );
    std::fs::write(mail.join("box.mbox"), mbox).unwrap();

    let out = harpoon(dir.path(), &db.url).args(["import", "--commit"]).arg(&mail).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a failed input makes the exit status non-zero: {stdout}");
    assert!(
        stdout.contains("imported 4, duplicates 0, committed 4 (0 joined an existing event), failed 1"),
        "{stdout}"
    );
    assert!(stdout.contains("empty.eml: the email is empty"), "{stdout}");
    // Not a terminal: one plain line per file on stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().any(|l| l.starts_with("4/4 ") || l.contains("/4 ")), "{stderr}");

    // Again: everything is a duplicate, nothing new.
    std::fs::remove_file(mail.join("empty.eml")).unwrap();
    let out = harpoon(dir.path(), &db.url).args(["import"]).arg(&mail).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("imported 0, duplicates 4, failed 0"), "{stdout}");

    let conn_db = db.connect();
    let mut conn = conn_db.conn().unwrap();
    let found = harpoon::db::indicators::search(
        &mut conn,
        &harpoon::db::indicators::IndicatorQuery {
            kinds: vec!["domain".into()],
            limit: 100,
            ..Default::default()
        },
    )
    .unwrap();
    let values: Vec<&str> = found.iter().map(|r| r.value.as_str()).collect();
    for n in 1..=4 {
        assert!(values.contains(&format!("track{n}.parcel-phish.com").as_str()), "{values:?}");
    }
    // The CLI stores through the same pipeline as every edge: the four share a registered
    // domain, so they are one campaign.
    let campaigns = harpoon::service::campaigns::list(&mut conn, 2, None, 50).unwrap();
    assert_eq!(campaigns.iter().map(|c| c.drafts).collect::<Vec<_>>(), [4], "{campaigns:?}");
}
