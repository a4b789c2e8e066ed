//! Hidden links through an import (issue 16): a Safe Links wrapper's target is proposed, the
//! wrapper itself kept as whitelisted context with its reason, and the default wrapper rules
//! are shipped.

use serde_json::Value;

use crate::helpers::TestApp;

const TARGET: &str = "https://login.wrapped-phish.top/o365";

fn raw() -> String {
    let wrapper = format!(
        "https://eur01.safelinks.protection.outlook.com/?url={}&amp;data=05%7C01&amp;reserved=0",
        TARGET.replace(':', "%3A").replace('/', "%2F")
    );
    format!(
        "From: IT <it@wrapped-phish.top>\r\nTo: alice@acme-corp.com\r\nSubject: Mailbox full\r\n\
Message-ID: <w1@wrapped-phish.top>\r\nDate: Mon, 4 Mar 2024 09:14:55 +0000\r\nContent-Type: text/html\r\n\r\n\
<p>Your mailbox is full: <a href=\"{wrapper}\">review</a></p>\r\n"
    )
}

#[tokio::test]
async fn a_wrapped_link_proposes_its_target_and_keeps_the_wrapper_as_context() {
    let app = TestApp::spawn_acme().await;
    let id = app.import_id(&raw()).await;
    let d = app.draft(id).await;
    let items = d["items"].as_array().unwrap();
    let find = |pred: &dyn Fn(&Value) -> bool| items.iter().find(|i| pred(i)).cloned();
    let target = find(&|i| i["type"] == "url" && i["value"] == TARGET).expect("target extracted");
    assert_eq!(target["state"], "proposed", "{target}");
    let wrapper = find(&|i| i["type"] == "url" && i["value"].as_str().unwrap_or("").contains("safelinks"))
        .expect("wrapper kept");
    assert_eq!(wrapper["state"], "whitelisted", "{wrapper}");
    assert!(wrapper.to_string().contains("redirect_wrapper"), "{wrapper}");
    let host = find(&|i| i["type"] == "domain" && i["value"] == "eur01.safelinks.protection.outlook.com")
        .expect("wrapper host kept");
    assert_eq!(host["state"], "whitelisted", "{host}");
}

/// "Scan to sign" in a PDF: a QR code drawn as a Flate-compressed 8-bit grey image XObject. Its
/// URL is proposed, and its provenance says it came from a QR code in that PDF's image.
#[test]
fn a_qr_code_inside_a_pdf_attachment_is_read() {
    use std::io::Write;
    const QR_URL: &str = "https://sign.qr-in-pdf.top/docusign?e=7";
    let code = qrcode::QrCode::new(QR_URL.as_bytes()).unwrap();
    let (n, scale, quiet) = (code.width(), 6usize, 4usize);
    let colors = code.to_colors();
    let side = (n + 2 * quiet) * scale;
    let mut pixels = Vec::with_capacity(side * side);
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = (x / scale, y / scale);
            let dark = mx >= quiet
                && my >= quiet
                && mx < n + quiet
                && my < n + quiet
                && colors[(my - quiet) * n + (mx - quiet)] == qrcode::Color::Dark;
            pixels.push(if dark { 0u8 } else { 255 });
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&pixels).unwrap();
    let stream = z.finish().unwrap();
    let mut pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    pdf.extend_from_slice(
        format!(
            "2 0 obj\n<< /Type /XObject /Subtype /Image /Width {side} /Height {side} /BitsPerComponent 8 \
             /ColorSpace /DeviceGray /Filter /FlateDecode /Length {} >>\nstream\n",
            stream.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&stream);
    pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pdf);
    let raw = format!(
        "From: HR <hr@qr-in-pdf.top>\r\nTo: bob@acme-corp.com\r\nSubject: Sign your contract\r\n\
Message-ID: <q1@qr-in-pdf.top>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nPlease sign the attached contract.\r\n\
--b\r\nContent-Type: application/pdf; name=\"contract.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"contract.pdf\"\r\n\r\n{b64}\r\n--b--\r\n"
    );
    let x = harpoon::extract::extract(raw.as_bytes(), &harpoon::extract::ExtractOptions::default());
    let url = x
        .observables
        .iter()
        .find(|o| o.indicator.value == QR_URL)
        .unwrap_or_else(|| panic!("the QR code's URL is not found: {:?}", x.warnings));
    assert!(url.whitelisted.is_none(), "proposed");
    let text = &x.texts[url.provenance[0].text];
    assert!(
        matches!(&text.location, harpoon::extract::Location::QrCode { image, .. } if image.contains("contract.pdf")),
        "{:?}",
        text.location
    );
}
