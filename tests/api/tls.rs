//! HTTPS through rustls: TLS 1.2 and 1.3 both served, plain HTTP refused on the TLS port, and a
//! broken certificate is a clear startup error.

use harpoon::settings::Settings;
use harpoon::startup::Application;

use crate::helpers::{TestApp, TestDb};

pub(crate) fn self_signed(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, reqwest::Certificate) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    (cert_path, key_path, root)
}

#[tokio::test]
async fn https_serves_tls_12_and_13() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, root) = self_signed(dir.path());
    let app = TestApp::spawn_with(|s| {
        s.server.tls_cert = Some(cert.clone());
        s.server.tls_key = Some(key.clone());
    })
    .await;
    assert!(app.url.starts_with("https://"));
    let url = app.url.replace("127.0.0.1", "localhost");
    for version in [reqwest::tls::Version::TLS_1_2, reqwest::tls::Version::TLS_1_3] {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(root.clone())
            .min_tls_version(version)
            .max_tls_version(version)
            .build()
            .unwrap();
        let resp = client.get(format!("{url}/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{version:?}");
        assert!(resp.headers().contains_key("strict-transport-security"));
    }
    let plain = app.url.replace("https://", "http://");
    assert!(
        reqwest::get(format!("{plain}/healthz")).await.is_err(),
        "plain HTTP is not served on the TLS port"
    );
}

#[tokio::test]
async fn broken_tls_material_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path());
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let (_, other_key, _) = self_signed(&other);
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a pem file").unwrap();
    let test_db = TestDb::fresh();
    let db = test_db.connect();
    db.migrate().unwrap();
    let cases = [
        (cert.clone(), garbage.clone(), "holds no private key"),
        (garbage.clone(), key.clone(), "holds no certificate"),
        (cert.clone(), other_key.clone(), "do not match"),
        (cert.clone(), dir.path().join("missing.pem"), "cannot read TLS key"),
    ];
    for (c, k, needle) in cases {
        let mut settings = Settings::default();
        settings.server.listen = "127.0.0.1:0".into();
        settings.server.tls_cert = Some(c);
        settings.server.tls_key = Some(k);
        let err = Application::build(settings, db.clone()).err().expect("must fail");
        assert!(format!("{err:#}").contains(needle), "{err:#}");
    }
}
