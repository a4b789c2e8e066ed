//! 7z archives, listed and hashed like zip archives ([`super::archive`]) under the same limits:
//! members, expansion ratio and total bytes. Read with `sevenz-rust2` (pure Rust; LZMA, LZMA2
//! and stored members, no encryption): an encrypted archive or member is listed as encrypted,
//! never guessed at.

use std::io::{Cursor, Read};

use sevenz_rust2::{Archive, BlockDecoder, Password};

use super::archive::{
    ArchiveLimits, ArchiveMember, Listing, MAX_READ_MEMBER, hashes_reader, too_big_to_read,
};

/// The 7z signature: `7z¼¯'\x1C`.
pub(crate) const MAGIC: &[u8] = b"7z\xBC\xAF\x27\x1C";

/// Dictionary memory allowed to one decoder (64 MB): LZMA dictionaries are chosen by the
/// archive's writer, so a hostile one could ask for gigabytes.
const MEMORY_LIMIT_KB: usize = 64 * 1024;

/// Lists a 7z archive: every member hashed within the limits, and the bytes of members
/// `keep(name)` wants (up to 10 MB each) for the caller to scan.
pub(crate) fn members(data: &[u8], lim: &ArchiveLimits, keep: &dyn Fn(&str) -> bool) -> Listing {
    // Third-party code fed hostile bytes: a panic costs this archive, not the whole input.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| members_inner(data, lim, keep)))
        .unwrap_or_else(|_| Listing::failed("7z reader failed on this archive (internal error)".into()))
}

fn members_inner(data: &[u8], lim: &ArchiveLimits, keep: &dyn Fn(&str) -> bool) -> Listing {
    let mut contents = Vec::new();
    let mut warnings = Vec::new();
    let mut decoded = 0u64;
    let mut capped = false;
    let password = Password::empty();
    let mut src = Cursor::new(data);
    let archive = match Archive::read_with_memory_limit(&mut src, &password, MEMORY_LIMIT_KB) {
        Ok(a) => a,
        Err(sevenz_rust2::Error::PasswordRequired) => {
            return Listing::failed("encrypted 7z archive (file names encrypted too); not listed".into());
        }
        Err(e) => return Listing::failed(format!("unreadable 7z archive: {e}")),
    };
    let n = archive.files.iter().filter(|f| !f.is_directory()).count();
    if n > lim.max_members {
        warnings.push(format!("7z has {n} members; only the first {} listed", lim.max_members));
    }
    let mut members: Vec<ArchiveMember> = archive
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.is_directory())
        .take(lim.max_members)
        .map(|(i, f)| ArchiveMember {
            name: f.name().to_owned(),
            size: f.size(),
            // Solid blocks compress members together: no size of one's own.
            compressed_size: 0,
            encrypted: archive.is_file_encrypted(i),
            hashes: None,
        })
        .collect();
    if members.iter().any(|m| m.encrypted) {
        warnings.push("encrypted 7z members; listed, not read".into());
    }
    let budget_cap = (data.len() as u64).saturating_mul(lim.max_ratio).min(lim.max_bytes);
    let mut budget = budget_cap;
    let mut seen = 0usize;
    for block in 0..archive.blocks.len() {
        if seen >= lim.max_members || budget == 0 {
            capped |= budget == 0;
            break;
        }
        let dec =
            BlockDecoder::new_with_memory_limit(1, MEMORY_LIMIT_KB, block, &archive, &password, &mut src);
        let mut each = |entry: &sevenz_rust2::ArchiveEntry, r: &mut dyn Read| {
            if entry.is_directory() {
                return Ok(true);
            }
            seen += 1;
            let Some(m) = members.iter_mut().find(|m| m.name == entry.name() && m.hashes.is_none()) else {
                return Ok(false);
            };
            let size = entry.size();
            if size > budget {
                capped = true;
                warnings.push(format!(
                    "7z member {} ({size} bytes) over the expansion limit ({budget_cap} bytes); not hashed",
                    m.name
                ));
                // Later members of a solid block could only be reached by inflating this one.
                return Ok(false);
            }
            let wanted = keep(&m.name);
            if wanted && size > MAX_READ_MEMBER {
                warnings.push(too_big_to_read("7z", &m.name, size));
            }
            let want = size <= MAX_READ_MEMBER && wanted;
            // Read at most the declared size + 1: a member that inflates past its header lies.
            let (h, total, kept, ok) = hashes_reader(&mut r.take(size.saturating_add(1)), want);
            budget = budget.saturating_sub(total);
            decoded = decoded.saturating_add(total);
            if ok && total == size {
                m.hashes = Some(h);
                if let Some(v) = kept {
                    contents.push((m.name.clone(), v));
                }
                Ok(seen < lim.max_members)
            } else {
                warnings.push(format!("7z member {} damaged or size mismatch", m.name));
                Ok(false)
            }
        };
        if let Err(e) = dec.for_each_entries(&mut each) {
            warnings.push(format!("7z block {block} unreadable: {e}"));
        }
    }
    Listing { members, contents, warnings, decoded, capped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seven(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = match sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new())) {
            Ok(w) => w,
            Err(_) => return Vec::new(),
        };
        for (n, d) in members {
            let _ = w.push_archive_entry(sevenz_rust2::ArchiveEntry::new_file(n), Some(*d));
        }
        w.finish().map(Cursor::into_inner).unwrap_or_default()
    }

    #[test]
    fn lists_hashes_and_keeps_members() {
        let data = seven(&[("a.txt", b"see https://seven.example.top/x"), ("b.bin", &[7u8; 300])]);
        assert!(data.starts_with(MAGIC));
        let lim = ArchiveLimits { max_members: 10, max_ratio: 100, max_bytes: 1 << 30 };
        let Listing { members: m, contents: kept, warnings: w, .. } =
            members(&data, &lim, &|n| n.ends_with(".txt"));
        assert_eq!(m.len(), 2, "{w:?}");
        assert!(m.iter().all(|m| m.hashes.is_some()), "{w:?}");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept.first().map(|(_, b)| b.as_slice()), Some(&b"see https://seven.example.top/x"[..]));
    }

    #[test]
    fn expansion_limit_and_junk() {
        let zeros = vec![0u8; 2_000_000];
        let data = seven(&[("z.txt", &zeros)]);
        let lim = ArchiveLimits { max_members: 10, max_ratio: 100, max_bytes: 1 << 30 };
        let Listing { members: m, contents: kept, warnings: w, .. } = members(&data, &lim, &|_| true);
        assert!(m.first().is_some_and(|m| m.hashes.is_none()));
        assert!(kept.is_empty());
        assert!(!w.is_empty());
        let Listing { members: m, warnings: w, .. } = members(b"7z\xBC\xAF\x27\x1Cjunkjunk", &lim, &|_| true);
        assert!(m.is_empty() && !w.is_empty());
    }
}
