//! The one outbound HTTP client. Every call Harpoon makes to another HTTP service (Splunk, the
//! TAXII servers of subscriptions) goes through [`HttpClient`]: rustls with certificate
//! verification (public roots plus an optional CA file, an optional client certificate),
//! connect and total timeouts, a cap on the body read, and a redirect policy that follows only
//! same-origin redirects, at most a configured number. Nothing else builds a `reqwest::Client`.

use std::path::Path;
use std::time::Duration;

use crate::settings::HttpClientSettings;

/// Why a request did not produce a response body.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid client configuration: {0}")]
    Config(String),
    #[error("no answer within {0} s")]
    Timeout(u64),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Other(String),
}

/// Per-client options besides the shared settings.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions<'a> {
    /// A PEM file of CA certificates trusted besides the public roots.
    pub ca_file: Option<&'a Path>,
    /// Total time of one request (connect, send, whole body).
    pub timeout: Duration,
    /// A PEM client certificate (chain) and its private key, presented when a server asks.
    pub identity_pem: Option<&'a [u8]>,
}

/// How a request authenticates.
#[derive(Clone)]
pub enum Auth {
    None,
    Bearer(String),
    Basic {
        username: String,
        password: String,
    },
    /// `Authorization: Token <secret>`.
    Token(String),
    /// The whole `Authorization` header value (a MISP feed's key as MISP sends it).
    Header(String),
}

impl std::fmt::Debug for Auth {
    // Never prints a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Bearer(_) => f.write_str("Auth::Bearer(..)"),
            Auth::Token(_) => f.write_str("Auth::Token(..)"),
            Auth::Basic { username, .. } => write!(f, "Auth::Basic({username}, ..)"),
            Auth::Header(_) => f.write_str("Auth::Header(..)"),
        }
    }
}

/// A response read to the end (at most the body cap).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    /// Every response header (names lower-case) whose value is text.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The hardened client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    max_body: usize,
    timeout_secs: u64,
}

impl HttpClient {
    pub fn new(settings: &HttpClientSettings, options: &ClientOptions) -> Result<Self, NetError> {
        let max_redirects = settings.max_redirects;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let same_origin = attempt.previous().first().is_some_and(|first| {
                first.scheme() == attempt.url().scheme()
                    && first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if attempt.previous().len() > max_redirects || !same_origin {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let timeout = if options.timeout.is_zero() { Duration::from_secs(60) } else { options.timeout };
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(true)
            .https_only(false)
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs.max(1)))
            .timeout(timeout)
            .redirect(policy)
            .user_agent(concat!("harpoon/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = options.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| NetError::Config(format!("cannot read CA file {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| NetError::Config(format!("CA file {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(NetError::Config(format!("CA file {} holds no certificate", path.display())));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = options.identity_pem {
            let identity = reqwest::Identity::from_pem(pem)
                .map_err(|e| NetError::Config(format!("client certificate: {e}")))?;
            builder = builder.identity(identity);
        }
        let client = builder.build().map_err(|e| NetError::Config(e.to_string()))?;
        Ok(Self { client, max_body: settings.max_body_bytes, timeout_secs: timeout.as_secs() })
    }

    /// `POST url` with a form body (`application/x-www-form-urlencoded`).
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, String)],
        auth: &Auth,
    ) -> Result<Response, NetError> {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let request =
            self.client.post(url).header("Content-Type", "application/x-www-form-urlencoded").body(body);
        self.send(request, auth).await
    }

    /// `GET url?query` with an `Accept` header.
    pub async fn get(
        &self,
        url: &str,
        query: &[(&str, String)],
        accept: &str,
        auth: &Auth,
    ) -> Result<Response, NetError> {
        let request = self.client.get(url).query(query).header("Accept", accept);
        self.send(request, auth).await
    }

    /// Sends with the credentials and reads the body up to the cap.
    async fn send(&self, request: reqwest::RequestBuilder, auth: &Auth) -> Result<Response, NetError> {
        let request = match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Token(token) => request.header("Authorization", format!("Token {token}")),
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
            Auth::Header(value) => request.header("Authorization", value),
        };
        let mut response = request.send().await.map_err(|e| self.error(&e))?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.error(&e))? {
            if body.len() + chunk.len() > self.max_body {
                return Err(NetError::TooLarge(self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, content_type, headers, body })
    }

    fn error(&self, e: &reqwest::Error) -> NetError {
        if e.is_timeout() {
            NetError::Timeout(self.timeout_secs)
        } else if e.is_connect() {
            // The source chain says why (refused, TLS, certificate).
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            NetError::Connect(text)
        } else {
            NetError::Other(e.to_string())
        }
    }
}
