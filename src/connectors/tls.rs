//! The connectors' one TLS client path (rustls, TLS 1.2 and 1.3): the trust store (a CA file or
//! the built-in web roots), TCP connect with a timeout, and the handshake. Certificates are
//! always verified, host names always checked; there is no switch to turn that off.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::ConnectorError;

/// A client TLS configuration trusting the CAs of `ca_file`, or the web roots when unset.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ConnectorError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                ConnectorError::Config(format!("cannot read ca_file {}: {e}", path.display()))
            })?;
            let certs = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConnectorError::Config(format!("ca_file {} is not PEM: {e}", path.display())))?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ConnectorError::Config(format!(
                    "ca_file {} holds no usable certificate",
                    path.display()
                )));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ConnectorError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Opens a TCP connection to `host:port` within `timeout`.
pub async fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectorError> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| {
            ConnectorError::Connect(format!("{host}:{port}: no answer within {}s", timeout.as_secs()))
        })?
        .map_err(|e| ConnectorError::Connect(format!("{host}:{port}: {e}")))?;
    // Best effort: a failure only affects latency.
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Runs the TLS handshake over `stream`, verifying the certificate for `host`.
pub async fn handshake<S>(
    config: Arc<rustls::ClientConfig>,
    host: &str,
    stream: S,
    timeout: Duration,
) -> Result<TlsStream<S>, ConnectorError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| ConnectorError::Config(format!("'{host}' is not a valid server name")))?;
    tokio::time::timeout(timeout, TlsConnector::from(config).connect(name, stream))
        .await
        .map_err(|_| ConnectorError::Tls("no TLS handshake within the timeout".into()))?
        .map_err(|e| ConnectorError::Tls(e.to_string()))
}
