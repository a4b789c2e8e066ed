//! Attachment hashing and zip archive listing, within the expansion limits of design §6:
//! members are streamed through the hashers, never inflated whole into memory.

use std::io::{Cursor, Read};

use md5::Md5;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// MD5, SHA-1 and SHA-256 of some bytes, lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hashes {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

#[derive(Default)]
struct Hasher {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
}

impl Hasher {
    /// All three hashers over each 16 KiB piece in turn: the piece is read from memory once
    /// and stays in the L1 cache for the next two (a large attachment hashed whole by each in
    /// turn was read from memory three times).
    fn update(&mut self, b: &[u8]) {
        for piece in b.chunks(16 * 1024) {
            self.md5.update(piece);
            self.sha1.update(piece);
            self.sha256.update(piece);
        }
    }
    fn finish(self) -> Hashes {
        Hashes {
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
        }
    }
}

pub(crate) fn hashes(b: &[u8]) -> Hashes {
    let mut h = Hasher::default();
    h.update(b);
    h.finish()
}

/// Streams a reader through the hashers: hashes, bytes read, the bytes themselves if `keep`,
/// and whether it ended cleanly (7z members; zip keeps its own loop).
pub(crate) fn hashes_reader(r: &mut dyn Read, keep: bool) -> (Hashes, u64, Option<Vec<u8>>, bool) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut h = Hasher::default();
    let mut kept: Option<Vec<u8>> = keep.then(Vec::new);
    let mut total: u64 = 0;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (h.finish(), total, kept, true),
            Ok(k) => {
                total += k as u64;
                let chunk = buf.get(..k).unwrap_or_default();
                h.update(chunk);
                if let Some(v) = kept.as_mut() {
                    v.extend_from_slice(chunk);
                }
            }
            Err(_) => return (h.finish(), total, kept, false),
        }
    }
}

/// One member of an archive attachment.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveMember {
    pub name: String,
    /// Uncompressed size as declared by the archive.
    pub size: u64,
    pub compressed_size: u64,
    pub encrypted: bool,
    /// Absent when the member was not read (encrypted, unsupported, or over a limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Hashes>,
}

/// Limits for one archive.
pub(crate) struct ArchiveLimits {
    pub max_members: usize,
    pub max_ratio: u64,
    pub max_bytes: u64,
}

/// What one archive yields.
#[derive(Default)]
pub(crate) struct Listing {
    pub members: Vec<ArchiveMember>,
    /// The contents of the members worth reading.
    pub contents: Vec<(String, Vec<u8>)>,
    pub warnings: Vec<String>,
    /// Bytes inflated in all (hashed, and kept or not).
    pub decoded: u64,
    /// A member was left unread because of `max_bytes` or the ratio.
    pub capped: bool,
}

impl Listing {
    pub(crate) fn failed(warning: String) -> Self {
        Self { warnings: vec![warning], ..Self::default() }
    }
}

/// Members read whole for scanning are at most this big.
pub(crate) const MAX_READ_MEMBER: u64 = 10 * 1024 * 1024;

/// The warning for a member worth reading that is too big to be read whole: hashed (if the
/// expansion limits allowed), its content not scanned.
pub(crate) fn too_big_to_read(kind: &str, name: &str, size: u64) -> String {
    format!(
        "{kind} member {name} ({size} bytes) over the {MAX_READ_MEMBER} byte limit for reading a member; not scanned"
    )
}

/// Lists a zip archive: every member hashed within the limits, and the bytes of members
/// `keep(name)` wants (up to 10 MB each) for the caller to scan.
pub(crate) fn zip_members(data: &[u8], lim: &ArchiveLimits, keep: &dyn Fn(&str) -> bool) -> Listing {
    let mut out = Listing::default();
    let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => return Listing::failed(format!("unreadable zip archive: {e}")),
    };
    let Listing { members, contents, warnings, decoded, capped } = &mut out;
    let budget_cap = (data.len() as u64).saturating_mul(lim.max_ratio).min(lim.max_bytes);
    let mut budget = budget_cap;
    let n = zip.len();
    if n > lim.max_members {
        warnings.push(format!("zip has {n} members; only the first {} listed", lim.max_members));
    }
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..n.min(lim.max_members) {
        let meta = match zip.by_index_raw(i) {
            Ok(f) => (f.name().to_owned(), f.size(), f.compressed_size(), f.encrypted(), f.is_dir()),
            Err(e) => {
                warnings.push(format!("zip member {i} unreadable: {e}"));
                continue;
            }
        };
        let (name, size, csize, encrypted, is_dir) = meta;
        if is_dir {
            continue;
        }
        let mut member = ArchiveMember { name, size, compressed_size: csize, encrypted, hashes: None };
        if !encrypted {
            if size > budget {
                *capped = true;
                warnings.push(format!(
                    "zip member {} ({size} bytes) over the expansion limit ({budget_cap} bytes); not hashed",
                    member.name
                ));
            } else if let Ok(f) = zip.by_index(i) {
                // Read at most the declared size + 1: a member that inflates past its header lies.
                let mut r = f.take(size.saturating_add(1));
                let mut h = Hasher::default();
                let wanted = keep(&member.name);
                if wanted && size > MAX_READ_MEMBER {
                    warnings.push(too_big_to_read("zip", &member.name, size));
                }
                let mut kept: Option<Vec<u8>> = (size <= MAX_READ_MEMBER && wanted).then(Vec::new);
                let mut total: u64 = 0;
                let mut ok = true;
                loop {
                    match r.read(&mut buf) {
                        Ok(0) => break,
                        Ok(k) => {
                            total += k as u64;
                            let chunk = buf.get(..k).unwrap_or_default();
                            h.update(chunk);
                            if let Some(v) = kept.as_mut() {
                                v.extend_from_slice(chunk);
                            }
                        }
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                }
                budget = budget.saturating_sub(total);
                *decoded = decoded.saturating_add(total);
                if ok && total == size {
                    member.hashes = Some(h.finish());
                    if let Some(v) = kept {
                        contents.push((member.name.clone(), v));
                    }
                } else {
                    warnings.push(format!("zip member {} damaged or size mismatch", member.name));
                }
            }
        }
        members.push(member);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lists_and_hashes_members_within_limits() {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default();
            let _ = w.start_file("a.txt", opts);
            let _ = w.write_all(b"hello");
            let _ = w.start_file("big.bin", opts);
            let _ = w.write_all(&vec![0u8; 1_000_000]);
            let _ = w.finish();
        }
        let data = buf.into_inner();
        let lim = ArchiveLimits { max_members: 10, max_ratio: 100, max_bytes: 1 << 30 };
        let Listing { members: m, contents: kept, warnings: w, .. } =
            zip_members(&data, &lim, &|n| n.ends_with(".txt"));
        assert_eq!(kept.first().map(|(n, b)| (n.as_str(), b.as_slice())), Some(("a.txt", &b"hello"[..])));
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.first().and_then(|m| m.hashes.as_ref()).map(|h| h.md5.as_str()),
            Some("5d41402abc4b2a76b9719d911017c592")
        );
        // 1 MB of zeros compresses ~1000x: over the 100x limit, listed but not hashed.
        assert!(m.get(1).is_some_and(|m| m.hashes.is_none()), "{w:?}");
        assert!(!w.is_empty());
    }
}
