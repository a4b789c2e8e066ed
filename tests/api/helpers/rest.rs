//! The REST API as an analyst or an admin uses it: users and tokens, imports and drafts, commits,
//! indicators, collections, exports and operation runs. Each helper asserts the status the
//! product promises, so a test reads as the story it tells.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, status_json};

impl TestApp {
    /// `GET path` as the admin, asserting 200: the JSON body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = status_json(self.as_admin(self.get(path)).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// `POST path` with a JSON body as the admin: status and JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        status_json(self.as_admin(self.post(path)).json(body).send().await.unwrap()).await
    }

    /// `PATCH path` with a JSON body as the admin: status and JSON body.
    pub async fn patch_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        status_json(
            self.as_admin(self.request(reqwest::Method::PATCH, path)).json(body).send().await.unwrap(),
        )
        .await
    }

    /// `POST path` (no body) as the admin: status and JSON body.
    pub async fn post_admin(&self, path: &str) -> (StatusCode, Value) {
        status_json(self.as_admin(self.post(path)).send().await.unwrap()).await
    }

    /// Creates a user through the REST API as the admin; returns its password.
    pub async fn add_user(&self, name: &str, role: &str) -> String {
        let password = format!("{name}-password-123");
        let resp = self
            .as_admin(self.post("/api/v1/users"))
            .json(&json!({ "username": name, "role": role, "password": password }))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap_or_default());
        password
    }

    /// Grants `user` reading and/or writing the collection `collection` (id or alias), as the
    /// admin, asserting 204.
    pub async fn grant(&self, collection: &str, user: &str, can_read: bool, can_write: bool) {
        let path = format!("/api/v1/collections/{collection}/grants/{user}");
        let resp = self
            .as_admin(self.request(reqwest::Method::PUT, &path))
            .json(&json!({ "can_read": can_read, "can_write": can_write }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }

    /// Issues an API token for `name` (authenticating as that user with `password`).
    pub async fn token_for(&self, name: &str, password: &str) -> (i64, String) {
        let body = self
            .post("/api/v1/tokens")
            .basic_auth(name, Some(password))
            .json(&json!({ "label": "test" }))
            .send()
            .await
            .expect("request");
        assert_eq!(body.status(), StatusCode::CREATED);
        let v: Value = body.json().await.expect("json");
        (v["id"].as_i64().expect("id"), v["token"].as_str().expect("token").to_string())
    }

    /// An API token of the admin labelled `label` with `scope` (an export token is bound to
    /// `exports`).
    pub async fn admin_token(&self, label: &str, scope: &str, exports: &[&str]) -> String {
        let (status, body) = status_json(
            self.as_admin(self.post("/api/v1/tokens"))
                .json(&json!({ "label": label, "scope": scope, "exports": exports }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Imports a raw email as the admin: status and JSON body.
    pub async fn import(&self, raw: &str) -> (StatusCode, Value) {
        status_json(
            self.as_admin(self.post("/api/v1/imports"))
                .header("Content-Type", "message/rfc822")
                .body(raw.to_string())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Imports a raw email as the admin, asserting success: the id of its (first) draft.
    pub async fn import_id(&self, raw: &str) -> i64 {
        let (status, body) = self.import(raw).await;
        assert!(status.is_success(), "{status} {body}");
        body["imports"][0]["id"].as_i64().unwrap()
    }

    /// The draft of import `id`.
    pub async fn draft(&self, id: i64) -> Value {
        self.get_ok(&format!("/api/v1/imports/{id}")).await
    }

    /// Commits import `id` with `meta` as the admin: status and JSON body.
    pub async fn commit(&self, id: i64, meta: Value) -> (StatusCode, Value) {
        status_json(
            self.as_admin(self.post(&format!("/api/v1/imports/{id}/commit")))
                .json(&meta)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The one indicator of this type and value.
    pub async fn indicator(&self, kind: &str, value: &str) -> Value {
        let (status, body) = status_json(
            self.as_admin(self.get("/api/v1/indicators"))
                .query(&[("type", kind), ("value", value)])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list = body["indicators"].as_array().unwrap();
        assert_eq!(list.len(), 1, "one {kind} {value}: {body}");
        list[0].clone()
    }

    /// Sets indicator `id`'s status (reason "test"), asserting 200: the indicator.
    pub async fn set_status(&self, id: i64, status: &str) -> Value {
        let (code, body) = status_json(
            self.as_admin(self.request(reqwest::Method::PATCH, &format!("/api/v1/indicators/{id}")))
                .json(&json!({ "status": status, "reason": "test" }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body
    }

    /// Creates a named export as the admin, asserting 201.
    pub async fn make_export(&self, body: Value) {
        let (status, created) =
            status_json(self.as_admin(self.post("/api/v1/exports")).json(&body).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }

    /// Starts operation `op` on an indicator as the admin: status and the run (or the error).
    pub async fn start_run(&self, indicator_id: i64, op: &str, body: Value) -> (StatusCode, Value) {
        status_json(
            self.as_admin(self.post(&format!("/api/v1/indicators/{indicator_id}/operations/{op}/runs")))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Run `id` as it is now.
    pub async fn run(&self, id: i64) -> Value {
        let (status, run) =
            status_json(self.as_admin(self.get(&format!("/api/v1/runs/{id}"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        run
    }

    /// Creates a stored TAXII collection in the `root` API root with read and write grants;
    /// returns its id.
    pub async fn add_collection(
        &self,
        title: &str,
        readers: &[&str],
        writers: &[&str],
        public_read: bool,
    ) -> String {
        let spec = harpoon::service::collections::CollectionSpec {
            title: title.to_string(),
            readers: readers.iter().map(|s| s.to_string()).collect(),
            writers: writers.iter().map(|s| s.to_string()).collect(),
            public_read,
            ..Default::default()
        };
        let row = self
            .db
            .run(move |conn| {
                Ok::<_, harpoon::db::DbError>(harpoon::service::collections::create(conn, &spec))
            })
            .await
            .expect("database reachable")
            .expect("collection created");
        row.id
    }
}
