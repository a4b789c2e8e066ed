//! The web UI as plain HTTP sees it: a logged-in session (cookie and CSRF token) and form bodies.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

use super::TestApp;

/// A logged-in browser, as far as plain HTTP goes: the session cookie and the CSRF token.
pub struct UiSession {
    pub cookie: String,
    pub csrf: String,
}

/// The value of the cookie `name` set by `resp`, and its whole `Set-Cookie` line.
pub fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = pair.split_once('=')?;
        (k == name).then(|| (val.to_string(), v.to_string()))
    })
}

/// The value of the hidden form field `name` in a page.
pub fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).unwrap_or_else(|| panic!("no {name} field in {body}")) + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

/// A `multipart/form-data` body of text fields (what the import form sends).
pub fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "----harpoon-test-boundary-7d1a";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl TestApp {
    /// Logs in through the login form: the response to the form's POST, and the session if one
    /// was started.
    pub async fn login(&self, user: &str, password: &str) -> (reqwest::Response, Option<UiSession>) {
        let form = self.get("/ui/login").send().await.unwrap();
        assert_eq!(form.status(), StatusCode::OK);
        let (login_cookie, _) = cookie_value(&form, "harpoon_login").expect("login cookie");
        let body = form.text().await.unwrap();
        let token = hidden(&body, "csrf");
        let resp = self
            .post("/ui/login")
            .header(COOKIE, format!("harpoon_login={login_cookie}"))
            .form(&[("username", user), ("password", password), ("csrf", &token), ("next", "/ui/events")])
            .send()
            .await
            .unwrap();
        let Some((session, _)) = cookie_value(&resp, "harpoon_session") else { return (resp, None) };
        let page = self.get("/ui").header(COOKIE, format!("harpoon_session={session}")).send().await.unwrap();
        let text = page.text().await.unwrap();
        let csrf = hidden(&text, "csrf");
        (resp, Some(UiSession { cookie: format!("harpoon_session={session}"), csrf }))
    }
}

impl UiSession {
    pub async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        app.get(path).header(COOKIE, &self.cookie).send().await.unwrap()
    }

    pub async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        fields.extend_from_slice(form);
        app.post(path).header(COOKIE, &self.cookie).form(&fields).send().await.unwrap()
    }

    /// `POST path` with these fields as `multipart/form-data` (what the import form sends); the
    /// CSRF token is not added, so a test may send a wrong one.
    pub async fn post_multipart(
        &self,
        app: &TestApp,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let (kind, body) = multipart(fields);
        app.post(path)
            .header(COOKIE, &self.cookie)
            .header(CONTENT_TYPE, kind)
            .body(body)
            .send()
            .await
            .unwrap()
    }
}
