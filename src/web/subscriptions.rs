//! `/ui/subscriptions`: the remote feeds Harpoon polls, administrators only: each with its
//! health (status, last success, last error, objects taken and refused, the newest refusal),
//! a form to subscribe to a TAXII 2.1 collection, and per subscription "poll now",
//! enable/disable and delete. The same use cases as `/api/v1/subscriptions`
//! (`subscriptions::Supervisor`); a secret typed here is sealed at once and never shown again.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::session::Posted;
use super::{Layout, Session, WebError, page, see_other};
use crate::subscriptions::Supervisor;
use crate::subscriptions::manage::SubscriptionView;

#[derive(Template)]
#[template(path = "subscriptions.html")]
struct SubscriptionsPage {
    l: Layout,
    subscriptions: Vec<SubscriptionView>,
}

/// `GET /ui/subscriptions`
pub async fn list(s: Session, sup: web::Data<Supervisor>) -> Result<HttpResponse, WebError> {
    s.require_admin()?;
    page(&SubscriptionsPage { l: Layout::new(&s, "Subscriptions"), subscriptions: sup.list().await? })
}

/// The "subscribe" form: text fields, empty meaning unset.
#[derive(Debug, Deserialize)]
pub struct NewSubscriptionForm {
    name: String,
    url: String,
    collection: String,
    #[serde(default)]
    auth: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
    /// Comma-separated STIX types.
    #[serde(default)]
    types: String,
    #[serde(default)]
    tlp: String,
    #[serde(default)]
    interval_secs: String,
}

impl NewSubscriptionForm {
    /// The REST body the form stands for.
    fn body(&self) -> Result<Value, WebError> {
        let mut body = Map::new();
        let mut text = |k: &str, v: &str| {
            if !v.trim().is_empty() {
                body.insert(k.into(), Value::String(v.trim().to_string()));
            }
        };
        text("name", &self.name);
        text("url", &self.url);
        text("collection", &self.collection);
        text("auth", &self.auth);
        text("username", &self.username);
        text("tlp", &self.tlp);
        // A secret is taken as typed (a password may begin or end with a space).
        if !self.secret.is_empty() {
            body.insert("secret".into(), Value::String(self.secret.clone()));
        }
        let types: Vec<&str> = self.types.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        if !types.is_empty() {
            body.insert("types".into(), json!(types));
        }
        if !self.interval_secs.trim().is_empty() {
            let secs: u64 = self
                .interval_secs
                .trim()
                .parse()
                .map_err(|_| WebError::BadRequest("interval: a number of seconds".into()))?;
            body.insert("interval_secs".into(), json!(secs));
        }
        Ok(Value::Object(body))
    }
}

/// `POST /ui/subscriptions`
pub async fn create(
    p: Posted<NewSubscriptionForm>,
    sup: web::Data<Supervisor>,
) -> Result<HttpResponse, WebError> {
    p.session.require_admin()?;
    let body = p.form.body()?;
    sup.create(body, &p.session.principal.username).await?;
    Ok(see_other("/ui/subscriptions"))
}

/// What a row's buttons do.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    /// `poll`, `enable`, `disable` or `delete`.
    action: String,
}

/// `POST /ui/subscriptions/{name}`
pub async fn action(
    p: Posted<ActionForm>,
    path: web::Path<String>,
    sup: web::Data<Supervisor>,
) -> Result<HttpResponse, WebError> {
    p.session.require_admin()?;
    let (name, actor) = (path.into_inner(), p.session.principal.username.clone());
    match p.form.action.as_str() {
        "poll" => drop(sup.poll_now(&name).await?),
        "enable" => drop(sup.update(&name, json!({"enabled": true}), &actor).await?),
        "disable" => drop(sup.update(&name, json!({"enabled": false}), &actor).await?),
        "delete" => sup.delete(&name, &actor).await?,
        other => return Err(WebError::BadRequest(format!("unknown action '{other}'"))),
    }
    Ok(see_other("/ui/subscriptions"))
}
