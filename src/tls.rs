//! HTTPS with rustls: TLS 1.2 and 1.3 only, no 0-RTT (early data is replayable).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

/// Builds the rustls server configuration from PEM files.
pub fn server_config(cert_path: &Path, key_path: &Path) -> anyhow::Result<rustls::ServerConfig> {
    let cert_pem = std::fs::read(cert_path)
        .with_context(|| format!("cannot read TLS certificate {}", cert_path.display()))?;
    let key_pem =
        std::fs::read(key_path).with_context(|| format!("cannot read TLS key {}", key_path.display()))?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("TLS certificate {} is not valid PEM", cert_path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("TLS certificate {} holds no certificate", cert_path.display());
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .with_context(|| format!("TLS key {} is not valid PEM", key_path.display()))?
        .with_context(|| format!("TLS key {} holds no private key", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match or are unsupported")?;
    config.max_early_data_size = 0;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
