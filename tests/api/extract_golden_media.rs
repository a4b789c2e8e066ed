//! Binary inputs of the golden fixtures that Python's standard library cannot write: QR code
//! images (PNG, JPEG, GIF) and a 7z archive. Written into `tests/fixtures/mail/media/` by
//! `cargo test --test api extract_golden_write_media_fixtures -- --ignored`; then
//! `python3 tests/fixtures/mail/generate.py` wraps them into `.eml` fixtures. Deterministic, so
//! the committed files only change when this code does.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, GrayImage, ImageFormat, Luma};

/// A QR code for `text`, `scale` pixels per module, with the standard 4-module quiet zone.
fn qr_image(text: &str, scale: u32) -> Result<GrayImage, String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    let n = code.width() as u32;
    let colors = code.to_colors();
    let quiet = 4;
    let side = (n + 2 * quiet) * scale;
    Ok(GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let inside = mx >= quiet && my >= quiet && mx < n + quiet && my < n + quiet;
        let dark =
            inside && colors.get(((my - quiet) * n + (mx - quiet)) as usize) == Some(&qrcode::Color::Dark);
        Luma([if dark { 0 } else { 255 }])
    }))
}

fn encode(img: &GrayImage, f: ImageFormat) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageLuma8(img.clone()).to_rgb8().write_to(&mut out, f).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

fn seven_zip(members: &[(&str, &[u8])]) -> Result<Vec<u8>, String> {
    let mut w = sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new())).map_err(|e| e.to_string())?;
    for (name, data) in members {
        w.push_archive_entry(sevenz_rust2::ArchiveEntry::new_file(name), Some(*data))
            .map_err(|e| e.to_string())?;
    }
    Ok(w.finish().map_err(|e| e.to_string())?.into_inner())
}

#[test]
#[ignore = "writes fixture files; run on purpose"]
fn extract_golden_write_media_fixtures() -> Result<(), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail/media");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("qr.png", encode(&qr_image("https://quish-png.top/login?u=bob", 5)?, ImageFormat::Png)?),
        ("qr.jpg", encode(&qr_image("https://quish-jpeg.top/m365/auth", 6)?, ImageFormat::Jpeg)?),
        ("qr.gif", encode(&qr_image("https://quish-gif.top/verify", 4)?, ImageFormat::Gif)?),
        ("qr_data.png", encode(&qr_image("https://quish-data.top/sso", 4)?, ImageFormat::Png)?),
        (
            "docs.7z",
            seven_zip(&[
                ("readme.txt", b"Open the portal: https://seven-zip-portal.top/docs/view?id=77\r\n"),
                ("invoice.bin", &[0x42u8; 512]),
            ])?,
        ),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The decoders read what the writer wrote (kept in the normal run, unlike the writer).
#[test]
fn extract_golden_media_fixtures_exist() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail/media");
    for f in ["qr.png", "qr.jpg", "qr.gif", "qr_data.png", "docs.7z"] {
        assert!(dir.join(f).is_file(), "{f} missing: run extract_golden_write_media_fixtures");
    }
}
