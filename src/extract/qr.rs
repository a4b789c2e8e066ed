//! QR codes in images ("quishing"): PNG, JPEG, GIF, BMP and WebP bytes, or raw pixels handed
//! over by another reader (a PDF's image XObjects), decoded to the strings they carry.
//!
//! Pure Rust (`image` with only those decoders, `rqrr`), and bounded because images are the
//! easiest way to make a server spend memory and time: a byte cap, a pixel cap read from the
//! header *before* anything is decoded, a downscale before detection, and a time budget checked
//! between the steps. Any refusal is a [`QrSkip`] for the caller to record as a limit warning;
//! a panic inside the crates is contained and reported the same way.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{GrayImage, ImageFormat, ImageReader};

/// Bounds for one image (and, for [`ImageLimits::max_images`], one input).
#[derive(Debug, Clone)]
pub(crate) struct ImageLimits {
    /// Encoded images larger than this are not decoded (10 MB).
    pub max_bytes: usize,
    /// Images with more pixels than this are not decoded (20 Mpx), judged from the header.
    pub max_pixels: u64,
    /// Images are scaled down to at most this many pixels before detection (2 Mpx): a QR code
    /// meant to be scanned by a phone survives it, and detection time stays small.
    pub detect_pixels: u64,
    /// Time allowed per image, checked between decoding, conversion and detection (250 ms).
    pub budget: Duration,
    /// Images decoded per input (32); the rest are hashed as attachments only.
    pub max_images: usize,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_pixels: 20_000_000,
            detect_pixels: 2_000_000,
            budget: Duration::from_millis(250),
            max_images: 32,
        }
    }
}

/// Why an image yielded nothing to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QrSkip {
    /// Over a limit: worth a warning, the image was not (fully) read.
    Limit(String),
    /// Not decodable: damaged, or a format/variant the decoders do not read.
    Unreadable(String),
}

/// Grids read per image: a phish shows one code, a poster maybe a few.
const MAX_GRIDS: usize = 8;
/// A QR code is at least 21 modules wide; nothing smaller can hold one (tracking pixels).
const MIN_SIDE: u32 = 21;

/// The image formats read for QR codes, recognised by their magic bytes.
pub(crate) fn image_format(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Png
        | ImageFormat::Jpeg
        | ImageFormat::Gif
        | ImageFormat::Bmp
        | ImageFormat::WebP) => Some(f),
        _ => None,
    }
}

/// The strings of the QR codes in an encoded image (any format [`image_format`] knows).
pub(crate) fn decode_image_bytes(bytes: &[u8], lim: &ImageLimits) -> Result<Vec<String>, QrSkip> {
    contain(|| decode_image_inner(bytes, lim))
}

/// Pixel layouts [`decode_raw_pixels`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pixels {
    /// One byte per pixel.
    Luma8,
    /// Three bytes per pixel.
    Rgb8,
    /// Four bytes per pixel (alpha ignored): PDFs keep alpha apart (`/SMask`), so only
    /// callers holding RGBA buffers use it.
    #[cfg_attr(not(test), expect(dead_code, reason = "PDF images carry no alpha channel"))]
    Rgba8,
}

/// The strings of the QR codes in raw 8-bit pixels, row-major (e.g. a PDF image XObject after
/// its filters). Too few bytes for `width × height` is [`QrSkip::Unreadable`].
pub(crate) fn decode_raw_pixels(
    width: u32,
    height: u32,
    layout: Pixels,
    data: &[u8],
    lim: &ImageLimits,
) -> Result<Vec<String>, QrSkip> {
    contain(|| {
        let started = Instant::now();
        check_dimensions(width, height, lim)?;
        let n = u64::from(width) * u64::from(height);
        let per = match layout {
            Pixels::Luma8 => 1,
            Pixels::Rgb8 => 3,
            Pixels::Rgba8 => 4,
        };
        if (data.len() as u64) < n.saturating_mul(per) {
            return Err(QrSkip::Unreadable(format!("{} bytes for {width}x{height} pixels", data.len())));
        }
        let grey: Vec<u8> = match layout {
            Pixels::Luma8 => data.get(..n as usize).unwrap_or_default().to_vec(),
            Pixels::Rgb8 | Pixels::Rgba8 => data
                .chunks_exact(per as usize)
                .take(n as usize)
                .map(|p| match p {
                    [r, g, b, ..] => luma(*r, *g, *b),
                    _ => 255,
                })
                .collect(),
        };
        let img = GrayImage::from_raw(width, height, grey)
            .ok_or_else(|| QrSkip::Unreadable("pixel buffer does not match its size".into()))?;
        detect(img, started, lim)
    })
}

/// ITU-R BT.601 luma, as `image` computes it.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 299 + u32::from(g) * 587 + u32::from(b) * 114) / 1000) as u8
}

/// Runs a decoding step with panics turned into [`QrSkip::Unreadable`]: the image decoders and
/// the QR detector are third-party code fed hostile bytes.
fn contain(f: impl FnOnce() -> Result<Vec<String>, QrSkip>) -> Result<Vec<String>, QrSkip> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(QrSkip::Unreadable("image decoder failed (internal error)".into())))
}

fn check_dimensions(w: u32, h: u32, lim: &ImageLimits) -> Result<(), QrSkip> {
    if u64::from(w) * u64::from(h) > lim.max_pixels {
        return Err(QrSkip::Limit(format!(
            "image of {w}x{h} pixels over the {} pixel limit; not decoded",
            lim.max_pixels
        )));
    }
    if w < MIN_SIDE || h < MIN_SIDE {
        // Too small to hold a QR code: nothing to do, and not worth a warning.
        return Err(QrSkip::Unreadable(format!("image of {w}x{h} pixels too small for a QR code")));
    }
    Ok(())
}

fn over_budget(started: Instant, lim: &ImageLimits, step: &str) -> Result<(), QrSkip> {
    if started.elapsed() > lim.budget {
        return Err(QrSkip::Limit(format!(
            "image over its {} ms time budget after {step}; QR detection skipped",
            lim.budget.as_millis()
        )));
    }
    Ok(())
}

fn decode_image_inner(bytes: &[u8], lim: &ImageLimits) -> Result<Vec<String>, QrSkip> {
    let started = Instant::now();
    if bytes.len() > lim.max_bytes {
        return Err(QrSkip::Limit(format!(
            "image of {} bytes over the {} byte limit; not decoded",
            bytes.len(),
            lim.max_bytes
        )));
    }
    let format = image_format(bytes).ok_or_else(|| QrSkip::Unreadable("not a supported image".into()))?;
    let reader = |bytes| {
        let mut r = ImageReader::with_format(Cursor::new(bytes), format);
        let mut l = image::Limits::default();
        // Width and height caps stop a lying header early; the allocation cap bounds the
        // decoded frame (4 bytes per pixel at most for these formats).
        l.max_image_width = Some(65_535);
        l.max_image_height = Some(65_535);
        l.max_alloc = Some(lim.max_pixels.saturating_mul(4));
        r.limits(l);
        r
    };
    // Dimensions from the header first: nothing is decoded past the pixel cap.
    let (w, h) =
        reader(bytes).into_dimensions().map_err(|e| QrSkip::Unreadable(format!("image header: {e}")))?;
    check_dimensions(w, h, lim)?;
    let img = reader(bytes).decode().map_err(|e| match e {
        image::ImageError::Limits(e) => QrSkip::Limit(format!("image decoder limit: {e}")),
        e => QrSkip::Unreadable(format!("image data: {e}")),
    })?;
    over_budget(started, lim, "decoding")?;
    let grey = img.to_luma8();
    drop(img);
    over_budget(started, lim, "conversion")?;
    detect(grey, started, lim)
}

/// Downscales to the detection size, then finds and decodes the grids.
fn detect(grey: GrayImage, started: Instant, lim: &ImageLimits) -> Result<Vec<String>, QrSkip> {
    let (w, h) = grey.dimensions();
    let px = u64::from(w) * u64::from(h);
    let grey = if px > lim.detect_pixels {
        // Integer-free scale factor: sqrt of the area ratio, applied to both sides.
        let f = (lim.detect_pixels as f64 / px as f64).sqrt();
        let nw = ((f64::from(w) * f) as u32).max(1);
        let nh = ((f64::from(h) * f) as u32).max(1);
        let small = image::imageops::thumbnail(&grey, nw, nh);
        over_budget(started, lim, "downscaling")?;
        small
    } else {
        grey
    };
    let (w, h) = grey.dimensions();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
        grey.get_pixel_checked(x as u32, y as u32).map_or(255, |p| p.0[0])
    });
    let mut out = Vec::new();
    for grid in prepared.detect_grids().into_iter().take(MAX_GRIDS) {
        if let Ok((_, text)) = grid.decode()
            && !text.trim().is_empty()
            && !out.contains(&text)
        {
            out.push(text);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QR code image built with the `qrcode` dev-dependency, `scale` pixels per module.
    fn qr_grey(text: &str, scale: u32) -> GrayImage {
        let code = qrcode::QrCode::new(text.as_bytes()).ok();
        let Some(code) = code else {
            return GrayImage::new(1, 1);
        };
        let n = code.width() as u32;
        let colors = code.to_colors();
        let quiet = 4;
        let side = (n + 2 * quiet) * scale;
        GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = (x / scale, y / scale);
            let dark = mx >= quiet
                && my >= quiet
                && mx < n + quiet
                && my < n + quiet
                && colors.get(((my - quiet) * n + (mx - quiet)) as usize) == Some(&qrcode::Color::Dark);
            image::Luma([if dark { 0 } else { 255 }])
        })
    }

    fn encode(img: &GrayImage, f: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let _ = image::DynamicImage::ImageLuma8(img.clone()).to_rgb8().write_to(&mut out, f);
        out.into_inner()
    }

    #[test]
    fn decodes_png_jpeg_gif_bmp() {
        let img = qr_grey("https://quish.example.top/login?u=1", 6);
        for f in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::Bmp] {
            let bytes = encode(&img, f);
            assert_eq!(image_format(&bytes), Some(f));
            let got = decode_image_bytes(&bytes, &ImageLimits::default());
            assert_eq!(got, Ok(vec!["https://quish.example.top/login?u=1".to_owned()]), "{f:?}");
        }
    }

    #[test]
    fn raw_pixels_and_downscale() {
        let img = qr_grey("https://raw.example.top/p", 40);
        let (w, h) = img.dimensions();
        let lim = ImageLimits { detect_pixels: 300_000, ..ImageLimits::default() };
        let rgb: Vec<u8> = img.as_raw().iter().flat_map(|&v| [v, v, v]).collect();
        let got = decode_raw_pixels(w, h, Pixels::Rgb8, &rgb, &lim);
        assert_eq!(got, Ok(vec!["https://raw.example.top/p".to_owned()]));
        let rgba: Vec<u8> = img.as_raw().iter().flat_map(|&v| [v, v, v, 255]).collect();
        assert_eq!(decode_raw_pixels(w, h, Pixels::Rgba8, &rgba, &lim).map(|v| v.len()), Ok(1));
        assert_eq!(decode_raw_pixels(w, h, Pixels::Luma8, img.as_raw(), &lim).map(|v| v.len()), Ok(1));
        assert!(matches!(
            decode_raw_pixels(w, h, Pixels::Rgb8, &rgb[..10], &lim),
            Err(QrSkip::Unreadable(_))
        ));
    }

    #[test]
    fn limits_refuse_before_decoding() {
        let img = qr_grey("https://x.example.top/", 4);
        let png = encode(&img, ImageFormat::Png);
        let small = ImageLimits { max_pixels: 100, ..ImageLimits::default() };
        assert!(matches!(decode_image_bytes(&png, &small), Err(QrSkip::Limit(_))));
        let tiny = ImageLimits { max_bytes: 10, ..ImageLimits::default() };
        assert!(matches!(decode_image_bytes(&png, &tiny), Err(QrSkip::Limit(_))));
        let none = ImageLimits { budget: Duration::ZERO, ..ImageLimits::default() };
        assert!(matches!(decode_image_bytes(&png, &none), Err(QrSkip::Limit(_))));
        // A header claiming 60000x60000 pixels is refused from the header alone.
        let mut lie = png.clone();
        if let Some(d) = lie.get_mut(16..24) {
            d.copy_from_slice(&[0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60]);
        }
        assert!(decode_image_bytes(&lie, &ImageLimits::default()).is_err());
        assert!(decode_image_bytes(b"\x89PNG\r\n\x1a\njunk", &ImageLimits::default()).is_err());
        assert!(decode_image_bytes(b"GIF89a\x01\x00\x01\x00", &ImageLimits::default()).is_err());
    }

    /// Worst-case timing (`cargo test --lib -- --ignored qr_timing --nocapture`): a large QR
    /// photo, a noisy image and a tiny code, each decoded with the default limits.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn qr_timing() {
        let big = image::imageops::resize(
            &qr_grey("https://big.example.top/x", 10),
            4000,
            4000,
            image::imageops::FilterType::Nearest,
        );
        let mut seed = 7u32;
        let noise = GrayImage::from_fn(1400, 1400, |_, _| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            image::Luma([(seed >> 24) as u8])
        });
        let small = qr_grey("https://small.example.top/", 4);
        for (name, img, f) in [
            ("qr 4000x4000 png", &big, ImageFormat::Png),
            ("qr 4000x4000 jpeg", &big, ImageFormat::Jpeg),
            ("noise 1400x1400 png", &noise, ImageFormat::Png),
            ("qr 156x156 gif", &small, ImageFormat::Gif),
        ] {
            let bytes = encode(img, f);
            let t = Instant::now();
            let r = decode_image_bytes(&bytes, &ImageLimits::default());
            eprintln!("{name}: {} bytes, {:?}, {:?}", bytes.len(), t.elapsed(), r.map(|v| v.len()));
        }
    }
}
