//! The web UI in a real browser: headless Chromium driven through chromedriver's W3C WebDriver
//! API (a small client over reqwest below: the dozen commands these tests use). The seed story
//! end to end (log in, paste, highlights, prune, whitelist the company domain, create the event,
//! set indicators Active, nslookup and the Splunk stand-in from the indicator page, pivot URL →
//! FQDN → IP by clicking), and the hostile corpus: every page that shows script payloads is
//! opened, and no dialog opened and no script ran.
//!
//! `scripts/chromium-env` installs Debian's chromium and chromium-driver. Without them the tests
//! say so and pass, except under CI (`CI=true`), where a missing browser is a failure.
//! `HARPOON_SCREENSHOTS=1` also writes the main pages to `docs/screenshots/`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fixtures::dns::dns_server;
use crate::fixtures::hostile::hostile_emails;
use crate::fixtures::phish::{PHISH_HOST, PHISH_IP, PHISH_URL, phish, report};
use crate::fixtures::splunk::{INTERNAL_HOST, splunk_stand_in};
use crate::helpers::{ADMIN_PASSWORD, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether the browser is there; panics under CI when it is not.
fn browser_available() -> bool {
    let there = std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !there {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "CI=true: {CHROMIUM} and {CHROMEDRIVER} are required (scripts/chromium-env installs them)"
        );
        eprintln!("SKIPPED: no {CHROMIUM} / {CHROMEDRIVER}; run scripts/chromium-env");
    }
    there
}

/// chromedriver on a free 127.0.0.1 port, in a process group of its own that is killed whole
/// with the test: killing chromedriver alone left its Chromium running, orphaned.
struct Driver {
    process: tokio::process::Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(group) =
            self.process.id().and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

/// One WebDriver session.
struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: Driver,
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { process, url, _profile: tempfile::tempdir().unwrap() }
    }
}

impl Browser {
    async fn start() -> Self {
        let driver = Driver::start().await;
        let http = reqwest::Client::new();
        let profile = driver._profile.path().display().to_string();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run",
                         "--disable-dev-shm-usage", "--window-size=1400,1000",
                         format!("--user-data-dir={profile}")]
            },
            "unhandledPromptBehavior": "ignore"
        }}});
        let v: Value = http
            .post(format!("{}/session", driver.url))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_string();
        let base = format!("{}/session/{id}", driver.url);
        Self { http, base, _driver: driver }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let v: Value = rb.send().await.unwrap().json().await.unwrap();
        if let Some(err) = v["value"]["error"].as_str() {
            panic!("WebDriver {path}: {err}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None).await.as_str().unwrap().to_string()
    }

    async fn title(&self) -> String {
        self.cmd(reqwest::Method::GET, "/title", None).await.as_str().unwrap().to_string()
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args })))
            .await
    }

    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v: Value = self
                .http
                .post(format!("{}/element", self.base))
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = v["value"][ELEMENT].as_str() {
                return id.to_string();
            }
            assert!(Instant::now() < deadline, "no element {css}: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{el}/click"), Some(json!({}))).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{el}/value"), Some(json!({ "text": text }))).await;
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits until `script` (a JS expression) is truthy.
    async fn wait_for(&self, what: &str, expr: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.js(&format!("return !!({expr});"), vec![]).await == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                let page = self
                    .js("return location.href + '\\n' + document.body.innerText.slice(0, 2000);", vec![])
                    .await;
                panic!("timed out waiting for {what} ({expr}) on {}", page.as_str().unwrap_or(""));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// No dialog is open (alert, confirm, prompt).
    async fn assert_no_dialog(&self, page: &str) {
        let v: Value =
            self.http.get(format!("{}/alert/text", self.base)).send().await.unwrap().json().await.unwrap();
        assert_eq!(v["value"]["error"], "no such alert", "{page}: a dialog is open: {v}");
    }

    async fn screenshot(&self, name: &str) {
        if std::env::var("HARPOON_SCREENSHOTS").is_err() {
            return;
        }
        let png = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, png.as_str().unwrap())
            .unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    async fn login(&self, app: &TestApp) {
        self.goto(&format!("{}/ui", app.url)).await;
        assert!(self.url().await.contains("/ui/login"), "anonymous → login");
        self.type_into("#username", "admin").await;
        self.type_into("#password", ADMIN_PASSWORD).await;
        self.click("#login").await;
        self.wait_for("the dashboard", "document.title.startsWith('Dashboard')").await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Best effort: chromedriver and its Chromium are killed with the test anyway (`Driver`).
        let http = self.http.clone();
        let base = self.base.clone();
        tokio::spawn(async move {
            let _ = http.delete(base).send().await;
        });
    }
}

fn selector_for_item(value: &str) -> String {
    format!("li.item[data-value=\"{value}\"]")
}

#[tokio::test]
async fn ui_browser_seed_story_end_to_end() {
    if !browser_available() {
        return;
    }
    let dns = dns_server(true).await;
    let splunk = splunk_stand_in().await;
    // No organisation domain configured: the analyst whitelists it during QA.
    let app = TestApp::builder()
        .dns(dns)
        .splunk(&splunk)
        .settings(|s| s.organisation.name = "ACME Corp".into())
        .spawn()
        .await;
    let b = Browser::start().await;
    b.login(&app).await;
    let started_title = b.title().await;
    assert_eq!(started_title, "Dashboard · Harpoon");

    paste_the_seed_email(&b, &app).await;
    qa_highlights_and_locates(&b).await;
    qa_prunes_and_whitelists(&b).await;
    create_the_event_and_set_it_active(&b).await;
    pivot_and_run_operations(&b).await;
    lists_dashboard_and_logout(&b, &app).await;
}

/// Paste the seed email into the import page.
async fn paste_the_seed_email(b: &Browser, app: &TestApp) {
    b.goto(&format!("{}/ui/import", app.url)).await;
    b.screenshot("import").await;
    let raw = report("alice@acme-corp.com", &phish("alice@acme-corp.com", "m-browser"));
    b.js("document.getElementById('raw').value = arguments[0];", vec![json!(raw)]).await;
    b.type_into("input[name=tags]", "paypal").await;
    b.click("#import-submit").await;
    b.wait_for("the QA page", "location.pathname.startsWith('/ui/drafts/')").await;
    b.wait_for("the highlights", "document.querySelectorAll('mark.hl').length > 3").await;
}

/// The URL is highlighted in the source; its ◎ scrolls there and flashes it.
async fn qa_highlights_and_locates(b: &Browser) {
    // Every piece of an item's highlight (a URL's host is also a domain item: pieces overlap).
    let marked = |value: &str| {
        b.js(
            "const li = document.querySelector('li.item[data-value=\"' + arguments[0] + '\"]'); \
             return Array.from(document.querySelectorAll('mark[data-items~=\"' + li.dataset.item + '\"]')).map(m => m.textContent).join('');",
            vec![json!(value)],
        )
    };
    assert_eq!(marked(PHISH_URL).await, json!(PHISH_URL));
    assert_eq!(marked(PHISH_IP).await, json!(format!("{PHISH_IP}{PHISH_IP}")), "seen twice");
    b.click(&format!("{} button.locate", selector_for_item(PHISH_URL))).await;
    b.wait_for("the flash", "document.querySelector('mark.hl.flash') !== null").await;
    // The ESMTPS id is not taken for an address: no ipv4 item but the sender's.
    let ips = b.js("return Array.from(document.querySelectorAll('li.item')).filter(li => li.querySelector('.kind').textContent === 'ipv4').map(li => li.dataset.value);", vec![]).await;
    assert_eq!(ips, json!([PHISH_IP]), "only the sender's IP, not the ESMTPS id");
    b.screenshot("qa").await;
}

/// Prune the social-media footer link (unticking "keep" submits); whitelist the company domain
/// (a suffix rule) from its address.
async fn qa_prunes_and_whitelists(b: &Browser) {
    b.click(&format!("{} input.autosubmit", selector_for_item("https://www.linkedin.com/company/paypal")))
        .await;
    b.wait_for("the pruning", "document.querySelector('li.item.pruned[data-value=\"https://www.linkedin.com/company/paypal\"]') !== null").await;
    let item = selector_for_item("help@acme-corp.com");
    b.click(&format!("{item} details.wl summary")).await;
    b.js(&format!("document.querySelector('{item} select[name=match_kind]').value = 'suffix';"), vec![])
        .await;
    b.type_into(&format!("{item} input[name=pattern]"), "acme-corp.com").await;
    b.type_into(&format!("{item} input[name=reason]"), "our company").await;
    b.click(&format!("{item} button.whitelist-btn")).await;
    b.wait_for(
        "the whitelisting",
        "document.querySelector('li.item.whitelisted[data-value=\"help@acme-corp.com\"]') !== null",
    )
    .await;
    let shown = b
        .js("return document.querySelector('li.item[data-value=\"acme-corp.com\"]').className;", vec![])
        .await;
    assert!(shown.as_str().unwrap().contains("whitelisted"), "{shown}");
    assert_eq!(
        b.js("return document.querySelectorAll('mark.hl.whitelisted').length > 0;", vec![]).await,
        json!(true),
        "whitelisted values are marked distinctly"
    );
}

/// Create the event; set the URL, the FQDN and the IP Active at once.
async fn create_the_event_and_set_it_active(b: &Browser) {
    b.js(
        "document.querySelector('#commit-form input[name=title]').value = 'PayPal limited-account phish';",
        vec![],
    )
    .await;
    b.click("#commit").await;
    b.wait_for("the event page", "location.pathname.startsWith('/ui/events/')").await;
    assert_eq!(b.text("#event-title").await, "PayPal limited-account phish");
    assert_eq!(b.text("#recipient-count").await, "1");

    for value in [PHISH_URL, PHISH_HOST, PHISH_IP] {
        b.js(
            "Array.from(document.querySelectorAll('#bulk-form tr')).filter(tr => tr.querySelector('a.ind-link') && tr.querySelector('a.ind-link').textContent === arguments[0]).forEach(tr => tr.querySelector('input.pick').checked = true);",
            vec![json!(value)],
        )
        .await;
    }
    b.js("document.getElementById('bulk-status').value = 'active';", vec![]).await;
    b.click("#bulk-apply").await;
    b.wait_for("Active statuses", "document.querySelectorAll('#bulk-form .status.active').length === 3")
        .await;
    b.screenshot("event").await;
}

/// The URL's page: its FQDN in the pivot tree; click through to it. nslookup from the page (the
/// run is polled, the resolved IP appears in the tree); the Splunk stand-in from the IP's page.
async fn pivot_and_run_operations(b: &Browser) {
    b.js("Array.from(document.querySelectorAll('a.ind-link')).find(a => a.textContent === arguments[0]).click();", vec![json!(PHISH_URL)]).await;
    b.wait_for("the URL page", &format!("document.getElementById('indicator-value') && document.getElementById('indicator-value').textContent === '{PHISH_URL}'")).await;
    b.click("#related a.pivot[data-kind=domain]").await;
    b.wait_for("the FQDN page", &format!("document.getElementById('indicator-value') && document.getElementById('indicator-value').textContent === '{PHISH_HOST}'")).await;

    // nslookup from the page: the run is polled, the resolved IP appears in the tree.
    b.click("#run-nslookup").await;
    b.wait_for("the nslookup run", "document.querySelector('#runs .run.succeeded') !== null").await;
    b.wait_for("the resolved IP", &format!("Array.from(document.querySelectorAll('#related a.pivot')).some(a => a.textContent.includes('{PHISH_IP}'))")).await;
    b.screenshot("indicator").await;
    b.js("Array.from(document.querySelectorAll('#related a.pivot')).find(a => a.textContent.includes(arguments[0])).click();", vec![json!(PHISH_IP)]).await;
    b.wait_for("the IP page", &format!("document.getElementById('indicator-value') && document.getElementById('indicator-value').textContent === '{PHISH_IP}'")).await;

    // The Splunk stand-in from the IP's page: a sighting naming the internal host.
    b.click("#run-splunk-search").await;
    b.wait_for("the splunk run", "document.querySelector('#runs .run.succeeded') !== null").await;
    b.wait_for(
        "the sighting",
        &format!("document.getElementById('sightings').textContent.includes('{INTERNAL_HOST}')"),
    )
    .await;
}

/// Lists and the dashboard; log out: the dashboard is no longer reachable.
async fn lists_dashboard_and_logout(b: &Browser, app: &TestApp) {
    b.goto(&format!("{}/ui/indicators?status=active", app.url)).await;
    assert_eq!(
        b.js("return document.querySelectorAll('table.list tbody tr').length;", vec![]).await,
        json!(3)
    );
    b.screenshot("indicators").await;
    b.goto(&format!("{}/ui/whitelist", app.url)).await;
    b.screenshot("whitelist").await;
    b.goto(&format!("{}/ui", app.url)).await;
    b.screenshot("dashboard").await;
    b.assert_no_dialog("dashboard").await;
    // Log out: the dashboard is no longer reachable.
    b.click("#logout").await;
    b.wait_for("the login page", "location.pathname === '/ui/login'").await;
    b.goto(&format!("{}/ui", app.url)).await;
    assert!(b.url().await.contains("/ui/login"));
}

#[tokio::test]
async fn ui_browser_hostile_corpus_runs_no_script() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn_acme().await;
    let mut drafts = Vec::new();
    for raw in hostile_emails() {
        drafts.push(app.import_id(&raw).await);
    }
    let (_, c) = app.commit(drafts[0], json!({})).await;
    let event = c["event_id"].as_i64().unwrap();
    let (_, ev) = crate::helpers::status_json(
        app.as_admin(app.get(&format!("/api/v1/events/{event}"))).send().await.unwrap(),
    )
    .await;
    let b = Browser::start().await;
    b.login(&app).await;
    // One more through the file picker, named like markup.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("<svg onload=alert(15)>.eml");
    let picked = "From: \"<script>alert(16)</script>\" <p@picked.example>\r\nSubject: <img src=x onerror=alert(17)> picked\r\n\
Content-Type: text/html\r\n\r\n<p onclick=alert(18)>http://picked.example/x</p><script>alert(19)</script>\r\n";
    std::fs::write(&file, picked).unwrap();
    b.goto(&format!("{}/ui/import", app.url)).await;
    b.type_into("#files", &file.display().to_string()).await;
    b.wait_for("the chosen file listed", "document.querySelectorAll('#chosen li').length === 1").await;
    b.click("#import-submit").await;
    b.wait_for("the QA page", "location.pathname.startsWith('/ui/drafts/')").await;
    let picked_draft: i64 = b.url().await.rsplit('/').next().unwrap().parse().unwrap();
    drafts.push(picked_draft);
    // And one dropped on the drop zone (a drop event carrying a file).
    b.goto(&format!("{}/ui/import", app.url)).await;
    let dropped = "From: <dropped@drop.example>\r\nSubject: \"><script>alert(20)</script> dropped\r\n\r\nhttp://drop.example/\"onmouseover=\"alert(21)\r\n";
    b.js(
        "const dt = new DataTransfer(); dt.items.add(new File([arguments[0]], '\"><img src=x onerror=alert(22)>.eml', {type: 'message/rfc822'})); \
         document.getElementById('dropzone').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
        vec![json!(dropped)],
    )
    .await;
    b.wait_for("the dropped file listed", "document.getElementById('files').files.length === 1").await;
    assert!(b.text("#chosen").await.contains(".eml"), "the file's name shown as text");
    b.click("#import-submit").await;
    b.wait_for("the QA page", "location.pathname.startsWith('/ui/drafts/')").await;
    drafts.push(b.url().await.rsplit('/').next().unwrap().parse().unwrap());
    let mut pages: Vec<String> =
        vec!["/ui".into(), "/ui/drafts?state=all".into(), "/ui/events".into(), "/ui/indicators".into()];
    pages.extend(drafts.iter().map(|d| format!("/ui/drafts/{d}")));
    pages.push(format!("/ui/events/{event}"));
    pages.push(format!("/ui/events/{event}/stix"));
    for i in ev["indicators"].as_array().unwrap() {
        pages.push(format!("/ui/indicators/{}", i["id"]));
    }
    for page in &pages {
        b.goto(&format!("{}{page}", app.url)).await;
        let title = b.title().await;
        // Open every HTML preview (sandboxed srcdoc) and let it load.
        b.js("document.querySelectorAll('details').forEach(d => d.open = true);", vec![]).await;
        b.js("document.querySelectorAll('mark.hl').forEach(m => m.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})));", vec![]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.assert_no_dialog(page).await;
        assert_eq!(
            b.js("return window.__pwned === undefined;", vec![]).await,
            json!(true),
            "{page}: a script ran"
        );
        assert_eq!(b.title().await, title, "{page}: the title changed");
        assert_ne!(title, "pwned", "{page}");
        assert!(title.ends_with(" · Harpoon"), "{page}: {title}");
        let frames = b.js("return document.querySelectorAll('iframe').length;", vec![]).await;
        if page.starts_with("/ui/drafts/") && drafts.first().is_some_and(|d| page.ends_with(&format!("/{d}")))
        {
            assert_eq!(frames, json!(1), "{page}: the HTML body as a sandboxed preview");
            assert_eq!(
                b.js("const f = document.querySelector('iframe'); return f.getAttribute('sandbox') === '' && f.hasAttribute('srcdoc') && !f.hasAttribute('src');", vec![]).await,
                json!(true)
            );
            // Click the preview's `javascript:` link: the sandbox runs no script.
            let frame = b.find("iframe.preview").await;
            b.cmd(reqwest::Method::POST, "/frame", Some(json!({ "id": { ELEMENT: frame } }))).await;
            let in_frame =
                b.js("return document.querySelectorAll('a[href^=\"javascript:\"]').length;", vec![]).await;
            assert_eq!(in_frame, json!(1), "the preview holds the hostile link, inert");
            b.click("a[href^=\"javascript:\"]").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            b.cmd(reqwest::Method::POST, "/frame/parent", Some(json!({}))).await;
            b.assert_no_dialog(page).await;
            assert_eq!(
                b.js("return window.__pwned === undefined;", vec![]).await,
                json!(true),
                "{page}: the link ran"
            );
        }
    }
}
