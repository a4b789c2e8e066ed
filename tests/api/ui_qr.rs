//! The QA screen names a QR code as the source of the values read from it (issue 16).

use crate::helpers::{ADMIN_PASSWORD, TestApp};

#[tokio::test]
async fn ui_qa_shows_values_from_a_qr_code_with_their_image() {
    let app = TestApp::spawn().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail/qr_attached.eml");
    let raw = std::fs::read_to_string(path).unwrap();
    let id = app.import_id(&raw).await;
    let (_, s) = app.login("admin", ADMIN_PASSWORD).await;
    let page = s.unwrap().get(&app, &format!("/ui/drafts/{id}")).await.text().await.unwrap();
    assert!(page.contains("from a QR code in image qr.png"), "{page}");
    assert!(page.contains("https://quish-png.top/login?u=bob"), "{page}");
}
