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
    // A JPEG is decoded straight to its luma channel: no chroma, no colour conversion.
    let grey = match (format == ImageFormat::Jpeg).then(|| jpeg_luma(bytes)).flatten() {
        Some(grey) => grey,
        None => {
            let img = reader(bytes).decode().map_err(|e| match e {
                image::ImageError::Limits(e) => QrSkip::Limit(format!("image decoder limit: {e}")),
                e => QrSkip::Unreadable(format!("image data: {e}")),
            })?;
            over_budget(started, lim, "decoding")?;
            to_luma(img)
        }
    };
    over_budget(started, lim, "decoding")?;
    detect(grey, started, lim)
}

/// The image as 8-bit luma, in integers. `image`'s own `to_luma8` goes through an RGBA `f32`
/// buffer and `roundf` per pixel (6 % of the corpus's extraction time); this computes the same
/// Rec. 709 luma (within one step of rounding) straight from the decoded bytes. Alpha is
/// ignored, as `to_luma8` does; rarer layouts (16-bit colour, float) keep `to_luma8`.
fn to_luma(img: image::DynamicImage) -> GrayImage {
    use image::DynamicImage as D;
    let (w, h) = (img.width(), img.height());
    let rgb = |r: u8, g: u8, b: u8| {
        ((u32::from(r) * 2126 + u32::from(g) * 7152 + u32::from(b) * 722 + 5000) / 10_000) as u8
    };
    let grey: Option<Vec<u8>> = match &img {
        D::ImageLuma8(_) => return img.into_luma8(),
        D::ImageLumaA8(b) => {
            Some(b.as_raw().chunks_exact(2).map(|p| p.first().copied().unwrap_or(255)).collect())
        }
        // Whole pixels as arrays: the loop has no per-pixel length check and vectorises.
        D::ImageRgb8(b) => {
            Some(b.as_raw().as_chunks::<3>().0.iter().map(|&[r, g, b]| rgb(r, g, b)).collect())
        }
        D::ImageRgba8(b) => {
            Some(b.as_raw().as_chunks::<4>().0.iter().map(|&[r, g, b, _]| rgb(r, g, b)).collect())
        }
        _ => None,
    };
    match grey.and_then(|g| GrayImage::from_raw(w, h, g)) {
        Some(g) => g,
        None => img.to_luma8(),
    }
}

/// The luma plane of a YCbCr or greyscale JPEG (the decoder skips the chroma planes), or
/// `None` for the rest (CMYK, damaged), which then goes through `image`'s own decoder.
fn jpeg_luma(bytes: &[u8]) -> Option<GrayImage> {
    use zune_jpeg::zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    let opts = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        .set_strict_mode(false)
        .set_max_width(65_535)
        .set_max_height(65_535);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), opts);
    d.decode_headers().ok()?;
    if !matches!(d.input_colorspace()?, ColorSpace::YCbCr | ColorSpace::Luma) {
        return None;
    }
    let (w, h) = d.dimensions()?;
    let px = d.decode().ok()?;
    GrayImage::from_raw(u32::try_from(w).ok()?, u32::try_from(h).ok()?, px)
}

/// Finds the QR codes' finder patterns with a cheap full-resolution pass, then runs the
/// detector only on the region around them (downscaled to the detection size if still large).
/// Most images in mail are logos, banners and photos without a QR code: they stop after the
/// pass. Working at full resolution up to the region keeps a small code in a large
/// screenshot or photo readable, which a downscale of the whole image would blur away.
fn detect(grey: GrayImage, started: Instant, lim: &ImageLimits) -> Result<Vec<String>, QrSkip> {
    let (w, h) = grey.dimensions();
    let dark = binarize(&grey);
    over_budget(started, lim, "thresholding")?;
    let finders = finder_patterns(&dark, w as usize, h as usize);
    drop(dark);
    if finders.len() < 3 {
        // Every QR code has three finder patterns: nothing to decode here.
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (x0, y0, x1, y1) in regions(&finders, w, h).into_iter().take(MAX_GRIDS) {
        let part = if (x0, y0, x1, y1) == (0, 0, w, h) {
            grey.clone()
        } else {
            image::imageops::crop_imm(&grey, x0, y0, x1 - x0, y1 - y0).to_image()
        };
        over_budget(started, lim, "finding the patterns")?;
        for text in detect_in(part, started, lim)? {
            if !out.contains(&text) && out.len() < MAX_GRIDS {
                out.push(text);
            }
        }
    }
    Ok(out)
}

/// The detector on one region, downscaled to the detection size first.
fn detect_in(grey: GrayImage, started: Instant, lim: &ImageLimits) -> Result<Vec<String>, QrSkip> {
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

/// Dark (1) or light (0) per pixel, row by row against the mean of the pixels around it on
/// its row: the detector's own adaptive threshold (a moving average over an eighth of the
/// width, run both ways, 5 % below it is dark), with a power-of-two window so it costs a few
/// additions per pixel instead of divisions.
///
/// Each moving average is a chain of dependent additions: [`LANES`] rows are run side by side
/// in 32-bit lanes (transposed so that each step is one vector operation over the rows), the
/// same arithmetic as one row at a time ([`binarize_row`], which takes the rows left over and
/// images too wide for 32 bits).
fn binarize(grey: &GrayImage) -> Vec<u8> {
    let w = grey.width() as usize;
    let px = grey.as_raw();
    let mut out = vec![0u8; px.len()];
    if w == 0 {
        return out;
    }
    let shift = (w / 8).max(1).ilog2();
    let mut done = 0;
    // 32 bits hold every sum while `(255 × 200) << shift` and `2 × 256 << shift × 95` do: up
    // to shift 16, images up to about a million pixels wide. Wider ones go row by row.
    if shift <= 16 {
        let mut across = vec![[0u8; LANES]; w];
        let mut forward = vec![[0u32; LANES]; w];
        for (rows, dark) in px.chunks_exact(w * LANES).zip(out.chunks_exact_mut(w * LANES)) {
            binarize_lanes(rows, dark, w, shift, &mut across, &mut forward);
            done += rows.len();
        }
    }
    let mut single = vec![0u64; w];
    let rest_out = out.get_mut(done..).unwrap_or_default();
    for (row, dark) in px.get(done..).unwrap_or_default().chunks_exact(w).zip(rest_out.chunks_exact_mut(w)) {
        binarize_row(row, dark, shift, &mut single);
    }
    out
}

/// Rows binarised side by side by [`binarize`].
const LANES: usize = 8;

/// [`binarize`] of `LANES` rows (`rows`, `dark`: `LANES × w` bytes; `across`, `forward`:
/// scratch of `w` entries).
fn binarize_lanes(
    rows: &[u8],
    dark: &mut [u8],
    w: usize,
    shift: u32,
    across: &mut [[u8; LANES]],
    forward: &mut [[u32; LANES]],
) {
    // Pixel x of every row side by side.
    for (k, row) in rows.chunks_exact(w).enumerate() {
        for (&p, a) in row.iter().zip(across.iter_mut()) {
            if let Some(slot) = a.get_mut(k) {
                *slot = p;
            }
        }
    }
    let edge = |x: Option<&[u8; LANES]>| x.map_or([0; LANES], |ps| ps.map(|p| u32::from(p) << shift));
    let mut avg = edge(across.first());
    for (ps, slot) in across.iter().zip(forward.iter_mut()) {
        for (a, &p) in avg.iter_mut().zip(ps) {
            *a = *a - (*a >> shift) + u32::from(p);
        }
        *slot = avg;
    }
    let mut avg = edge(across.last());
    for (ps, fwd) in across.iter_mut().zip(forward.iter()).rev() {
        // p < 0.95 × (fwd + avg) / 2^(shift + 1), in integers; the pixel's byte becomes its
        // dark flag.
        for ((a, p), &f) in avg.iter_mut().zip(ps.iter_mut()).zip(fwd) {
            *a = *a - (*a >> shift) + u32::from(*p);
            *p = u8::from((u32::from(*p) * 200) << shift < (f + *a) * 95);
        }
    }
    for (k, out) in dark.chunks_exact_mut(w).enumerate() {
        for (d, a) in out.iter_mut().zip(across.iter()) {
            *d = a.get(k).copied().unwrap_or(0);
        }
    }
}

/// [`binarize`] of one row (`forward`: scratch of the row's width).
fn binarize_row(row: &[u8], dark: &mut [u8], shift: u32, forward: &mut [u64]) {
    // Each average starts at its first pixel, so a row's edge is not taken for dark.
    let mut avg = row.first().map_or(0, |&p| u64::from(p) << shift);
    for (&p, slot) in row.iter().zip(forward.iter_mut()) {
        avg = avg - (avg >> shift) + u64::from(p);
        *slot = avg;
    }
    let mut avg = row.last().map_or(0, |&p| u64::from(p) << shift);
    for ((&p, &fwd), d) in row.iter().zip(forward.iter()).zip(dark.iter_mut()).rev() {
        avg = avg - (avg >> shift) + u64::from(p);
        // p < 0.95 × (fwd + avg) / 2^(shift + 1), in integers.
        *d = u8::from((u64::from(p) * 200) << shift < (fwd + avg) * 95);
    }
}

/// A finder pattern: centre and width (7 modules) in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Finder {
    x: u32,
    y: u32,
    size: u32,
}

/// More finder-like patterns than this (text, noise) and the whole image is handed over.
const MAX_FINDERS: usize = 256;

/// The dark-light-dark-light-dark runs of ratio 1:1:3:1:1 found on a row and confirmed on
/// the column through their centre, merged when they are the same pattern seen on several
/// rows. The run test has the detector's own tolerance (each run within ¾ of a module of
/// its expected width), so every pattern the detector could use is found here.
fn finder_patterns(dark: &[u8], w: usize, h: usize) -> Vec<Finder> {
    let mut found: Vec<Finder> = Vec::new();
    let mut runs: Vec<(usize, usize)> = Vec::new(); // (start, length) of alternating runs
    for (y, row) in dark.chunks_exact(w.max(1)).enumerate().take(h) {
        runs.clear();
        let mut start = 0;
        let mut colour = row.first().copied().unwrap_or(0);
        while start < row.len() {
            let end = run_end(row, start, colour);
            runs.push((start, end - start));
            start = end;
            colour ^= 1;
        }
        // The runs alternate; those at even offsets from the first dark run are dark.
        let first_dark = usize::from(row.first() != Some(&1));
        for win in runs.get(first_dark..).unwrap_or_default().windows(5).step_by(2) {
            let &[(_, l0), (_, l1), (cs, cl), (_, l3), (_, l4)] = win else {
                continue;
            };
            let lens = [l0, l1, cl, l3, l4];
            if !finder_ratio(lens) {
                continue;
            }
            let cx = cs + cl / 2;
            let total: usize = lens.iter().sum();
            let Some((cy, vtotal)) = vertical_check(dark, w, h, cx, y, total) else {
                continue;
            };
            let f = Finder { x: cx as u32, y: cy as u32, size: total.max(vtotal) as u32 };
            let near = |g: &Finder| {
                let reach = g.size.max(f.size) / 2;
                g.x.abs_diff(f.x) <= reach && g.y.abs_diff(f.y) <= reach
            };
            if !found.iter().any(near) {
                found.push(f);
                if found.len() > MAX_FINDERS {
                    return found;
                }
            }
        }
    }
    found
}

/// Where the run of `colour` (0 or 1) starting at `from` ends: eight pixels at a time while
/// they all match (most of a row is long light runs), then one by one.
fn run_end(row: &[u8], from: usize, colour: u8) -> usize {
    let all = u64::from(colour) * 0x0101_0101_0101_0101;
    let mut i = from;
    while let Some(word) = row.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
        if u64::from_ne_bytes(word) != all {
            break;
        }
        i += 8;
    }
    while row.get(i) == Some(&colour) {
        i += 1;
    }
    i
}

/// The detector's capstone test, exactly: with `avg` the mean of the four outer runs, each
/// run is within ¾·avg of its expected width (1, 1, 3, 1, 1 modules).
fn finder_ratio([a, b, c, d, e]: [usize; 5]) -> bool {
    let avg = (a + b + d + e) / 4;
    let err = avg * 3 / 4;
    [(a, 1), (b, 1), (c, 3), (d, 1), (e, 1)]
        .into_iter()
        .all(|(len, modules)| len + err >= modules * avg && len <= modules * avg + err)
}

/// Walks the column through a row candidate's centre: the same 1:1:3:1:1 pattern, of a width
/// within a factor of 3 of the row's (perspective, rotation), gives the pattern's vertical
/// centre and height.
fn vertical_check(
    dark: &[u8],
    w: usize,
    h: usize,
    x: usize,
    y: usize,
    total: usize,
) -> Option<(usize, usize)> {
    let at = |yy: usize| dark.get(yy * w + x).copied();
    let max_run = total * 3;
    // Runs upwards from y (the centre's own run first), then downwards.
    let walk = |down: bool| -> [usize; 3] {
        let mut lens = [0usize; 3];
        let mut yy = y;
        for (i, want) in [1u8, 0, 1].into_iter().enumerate() {
            let mut n = 0;
            loop {
                if at(yy) != Some(want) || n > max_run {
                    break;
                }
                n += 1;
                if down {
                    if yy + 1 >= h {
                        break;
                    }
                    yy += 1;
                } else {
                    if yy == 0 {
                        break;
                    }
                    yy -= 1;
                }
            }
            if let Some(slot) = lens.get_mut(i) {
                *slot = n;
            }
        }
        lens
    };
    let [cu, wu, du] = walk(false);
    let [cd, wd, dd] = walk(true);
    let centre = (cu + cd).checked_sub(1)?;
    let lens = [du, wu, centre, wd, dd];
    let vtotal: usize = lens.iter().sum();
    if !finder_ratio(lens) || vtotal * 3 < total || vtotal > total * 3 {
        return None;
    }
    let top = y + 1 - cu;
    Some((top + centre / 2, vtotal))
}

/// The parts of the image that can hold the codes whose finder patterns these are. Patterns
/// of one code have similar sizes and lie within 25 pattern widths of each other (177
/// modules at most); each group of at least three gives one region: its bounding box, widened
/// by half its larger side (the fourth corner of a rotated code lies outside the box of its
/// three finders) and by the patterns' quiet zone. Too many patterns (noise, text) and the
/// whole image is one region.
fn regions(finders: &[Finder], w: u32, h: u32) -> Vec<(u32, u32, u32, u32)> {
    if finders.len() > MAX_FINDERS {
        return vec![(0, 0, w, h)];
    }
    // Groups by repeated relabelling: a handful of patterns, so quadratic is fine.
    let mut group: Vec<usize> = (0..finders.len()).collect();
    let related = |a: &Finder, b: &Finder| {
        let (small, big) = (a.size.min(b.size), a.size.max(b.size));
        let reach = 25 * big;
        big <= small * 2 && a.x.abs_diff(b.x) <= reach && a.y.abs_diff(b.y) <= reach
    };
    let mut changed = true;
    while changed {
        changed = false;
        for (i, a) in finders.iter().enumerate() {
            for (j, b) in finders.iter().enumerate().skip(i + 1) {
                let (Some(&gi), Some(&gj)) = (group.get(i), group.get(j)) else { continue };
                if gi != gj && related(a, b) {
                    let low = gi.min(gj);
                    for g in group.iter_mut().filter(|g| **g == gi || **g == gj) {
                        *g = low;
                    }
                    changed = true;
                }
            }
        }
    }
    let mut out = Vec::new();
    for label in 0..finders.len() {
        let members: Vec<&Finder> =
            finders.iter().zip(&group).filter(|&(_, g)| *g == label).map(|(f, _)| f).collect();
        if members.len() < 3 {
            continue;
        }
        let (mut x0, mut y0, mut x1, mut y1, mut size) = (u32::MAX, u32::MAX, 0u32, 0u32, 0u32);
        for f in members {
            (x0, y0, x1, y1) = (x0.min(f.x), y0.min(f.y), x1.max(f.x), y1.max(f.y));
            size = size.max(f.size);
        }
        // 3.5 modules from a finder's centre to the code's edge, 4 more of quiet zone.
        let margin = (x1 - x0).max(y1 - y0) / 2 + size * 8 / 7 + 2;
        out.push((
            x0.saturating_sub(margin),
            y0.saturating_sub(margin),
            x1.saturating_add(margin).min(w),
            y1.saturating_add(margin).min(h),
        ));
    }
    out
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
        // A generous budget: debug builds on a loaded machine are slow; the point is the result.
        let lim =
            ImageLimits { detect_pixels: 300_000, budget: Duration::from_secs(60), ..ImageLimits::default() };
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

    /// A 4K screenshot-like image (light background, dark text bars) with a small code of
    /// `scale` pixels per module pasted at (`x`, `y`).
    fn screenshot_with_code(text: &str, scale: u32, x: u32, y: u32) -> GrayImage {
        let code = qr_grey(text, scale);
        let mut img = GrayImage::from_fn(3840, 2160, |px, py| {
            let bar = (py / 24) % 3 != 2 && (px / 7) % 11 != 0 && px % 900 < 700;
            image::Luma([if bar && py % 24 < 12 { 60 } else { 236 }])
        });
        image::imageops::replace(&mut img, &code, i64::from(x), i64::from(y));
        img
    }

    #[test]
    fn small_code_in_large_screenshot_and_photo() {
        // 3 px per module in a 3840x2160 screenshot: a downscale of the whole image to the
        // detection size would leave 1.4 px per module; the finder pass keeps full resolution.
        let lim = ImageLimits { budget: Duration::from_secs(60), ..ImageLimits::default() };
        let url = "https://small-in-4k.example.top/verify?id=42";
        let img = screenshot_with_code(url, 3, 2900, 1650);
        let png = encode(&img, ImageFormat::Png);
        assert_eq!(decode_image_bytes(&png, &lim), Ok(vec![url.to_owned()]));
        // A photo: 4000x3000 JPEG with a gradient and grain, a code of 4 px per module.
        let mut seed = 11u32;
        let mut photo = GrayImage::from_fn(4000, 3000, |x, y| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            image::Luma([(90 + (x + y) / 80 + (seed >> 28)) as u8])
        });
        let code = qr_grey("https://photo.example.top/pay", 4);
        image::imageops::replace(&mut photo, &code, 1200, 2100);
        let jpeg = encode(&photo, ImageFormat::Jpeg);
        assert_eq!(decode_image_bytes(&jpeg, &lim), Ok(vec!["https://photo.example.top/pay".to_owned()]));
    }

    #[test]
    fn finder_pass_skips_images_without_codes() {
        // Text bars and no code: no three finder patterns, so the detector never runs.
        let img = screenshot_with_code("x", 3, 0, 0);
        let blank = GrayImage::from_fn(3840, 2160, |x, y| *img.get_pixel(x, y.max(200)));
        let dark = binarize(&blank);
        assert!(finder_patterns(&dark, 3840, 2160).len() < 3);
        // With a code: its three finder patterns, near the code's corners.
        let img = screenshot_with_code("https://f.example.top/", 5, 1000, 500);
        let found = finder_patterns(&binarize(&img), 3840, 2160);
        assert!(found.len() >= 3, "{found:?}");
        assert!(found.iter().all(|f| (1000..1300).contains(&f.x) && (500..800).contains(&f.y)), "{found:?}");
        let r = regions(&found, 3840, 2160);
        assert!(
            matches!(r.as_slice(), [(x0, y0, x1, y1)] if *x0 <= 1020 && *y0 <= 520 && *x1 >= 1150 && *y1 >= 650 && x1 - x0 < 700),
            "{r:?}"
        );
    }

    #[test]
    fn binarize_rows_side_by_side_is_row_by_row() {
        // Heights with and without leftover rows, widths across several window shifts.
        let mut seed = 5u32;
        for (w, h) in [(21, 21), (64, 23), (333, 40), (1000, 7), (2500, 9)] {
            let img = GrayImage::from_fn(w, h, |x, y| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                image::Luma([((x * 7 + y * 13) % 256) as u8 ^ (seed >> 29) as u8])
            });
            let shift = (w as usize / 8).max(1).ilog2();
            let mut want = vec![0u8; (w * h) as usize];
            let mut scratch = vec![0u64; w as usize];
            for (row, dark) in img.as_raw().chunks_exact(w as usize).zip(want.chunks_exact_mut(w as usize)) {
                binarize_row(row, dark, shift, &mut scratch);
            }
            assert_eq!(binarize(&img), want, "{w}x{h}");
        }
    }

    #[test]
    fn integer_luma_is_images_within_one_step() {
        let mut seed = 3u32;
        let rgba = image::RgbaImage::from_fn(97, 31, |_, _| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let [a, b, c, d] = seed.to_le_bytes();
            image::Rgba([a, b ^ c, c, d])
        });
        for img in [
            image::DynamicImage::ImageRgba8(rgba.clone()),
            image::DynamicImage::ImageRgb8(image::DynamicImage::ImageRgba8(rgba.clone()).to_rgb8()),
            image::DynamicImage::ImageLumaA8(image::DynamicImage::ImageRgba8(rgba.clone()).to_luma_alpha8()),
            image::DynamicImage::ImageRgb16(image::DynamicImage::ImageRgba8(rgba.clone()).to_rgb16()),
        ] {
            let want = img.to_luma8();
            let got = to_luma(img);
            assert_eq!(got.dimensions(), want.dimensions());
            assert!(got.as_raw().iter().zip(want.as_raw()).all(|(a, b)| a.abs_diff(*b) <= 1));
        }
    }

    #[test]
    fn run_ends() {
        let row = [1u8, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert_eq!(run_end(&row, 0, 1), 3);
        assert_eq!(run_end(&row, 3, 0), 19);
        assert_eq!(run_end(&row, 19, 1), 20);
        assert_eq!(run_end(&row, 20, 0), 21);
        assert_eq!(run_end(&row, 21, 1), 21);
    }

    #[test]
    fn finder_ratio_is_the_detectors() {
        assert!(finder_ratio([4, 4, 12, 4, 4]));
        assert!(finder_ratio([3, 5, 11, 4, 4]));
        assert!(!finder_ratio([4, 4, 4, 4, 4]));
        assert!(!finder_ratio([4, 12, 12, 4, 4]));
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
