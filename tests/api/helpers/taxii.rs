//! TAXII as a partner's client sees it: the OASIS taxii2-client driver (`tests/oracle`), a poll of
//! `active-indicators` through it, and strict validation of what was served.

use serde_json::{Value, json};

use super::TestApp;
use crate::oracle;

/// The TAXII 2.1 media type (`Accept` and `Content-Type` of every TAXII request).
pub const TAXII: &str = "application/taxii+json;version=2.1";

impl TestApp {
    /// `GET path` accepting TAXII 2.1 (add the caller's credentials).
    pub fn taxii_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.get(path).header("Accept", TAXII)
    }

    /// `POST path` of this TAXII 2.1 envelope (add the caller's credentials).
    pub fn taxii_post(&self, path: &str, envelope: &Value) -> reqwest::RequestBuilder {
        self.post(path).header("Accept", TAXII).header("Content-Type", TAXII).body(envelope.to_string())
    }

    /// Runs the taxii2-client driver (blocking Python) off the async runtime that serves the app.
    pub async fn taxii_driver(&self, auth: Value, steps: Vec<Value>) -> Vec<Value> {
        let input = json!({ "url": self.url, "auth": auth, "steps": steps });
        let out = tokio::task::spawn_blocking(move || oracle::run("taxii_driver.py", &input)).await.unwrap();
        out["results"].as_array().unwrap().clone()
    }

    /// The id of the built-in `active-indicators` collection (taxii2-client wants the real id in
    /// URLs).
    pub async fn active_id(&self) -> String {
        let cols = self.get_ok("/api/v1/collections").await;
        cols.as_array().unwrap().iter().find(|c| c["alias"] == "active-indicators").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Every object of every page of `active-indicators` (after `added_after`, if given), as the
    /// taxii2-client sees them.
    pub async fn poll_active(&self, user: &str, password: &str, added_after: Option<&str>) -> Vec<Value> {
        let mut filters = json!({});
        if let Some(t) = added_after {
            filters["added_after"] = json!(t);
        }
        let collection = self.active_id().await;
        let results = self
            .taxii_driver(
                json!({ "mode": "basic", "user": user, "password": password }),
                vec![json!({ "scenario": "pages", "collection": collection, "endpoint": "objects",
                             "per_request": 2, "filters": filters })],
            )
            .await;
        let r = &results[0];
        assert!(r.get("error").is_none(), "taxii2-client failed: {r}");
        r["envelopes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["objects"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

/// Every object passes the OASIS validator in strict mode.
pub fn assert_strictly_valid(objects: &[Value]) {
    let result = oracle::run("validate.py", &json!({ "objects": objects }));
    for (o, r) in objects.iter().zip(result["results"].as_array().unwrap()) {
        assert_eq!(r["valid"], true, "{}: {}", o["id"], r["errors"]);
    }
}
