//! Text derived from a source text (HTML rendered to text, defanged text refanged) that remembers
//! where each byte came from, so spans found in the derived text point into the source.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegKind {
    /// Bytes copied unchanged.
    Copy,
    /// An entity or tag replaced by its meaning.
    Decoded,
    /// A defanged token (`[.]`, `hxxp`) replaced by what it stands for.
    Refanged,
}

#[derive(Debug, Clone, Copy)]
struct Seg {
    out: usize,
    out_len: usize,
    src: usize,
    src_len: usize,
    kind: SegKind,
}

#[derive(Debug, Default)]
pub(crate) struct Mapped {
    pub text: String,
    segs: Vec<Seg>,
}

impl Mapped {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self { text: String::with_capacity(n), segs: Vec::new() }
    }

    /// Appends `s`, which is the source range starting at `src` unchanged.
    pub(crate) fn copy(&mut self, s: &str, src: usize) {
        if s.is_empty() {
            return;
        }
        let out = self.text.len();
        self.text.push_str(s);
        if let Some(last) = self.segs.last_mut()
            && last.kind == SegKind::Copy
            && last.out + last.out_len == out
            && last.src + last.src_len == src
        {
            last.out_len += s.len();
            last.src_len += s.len();
            return;
        }
        self.segs.push(Seg { out, out_len: s.len(), src, src_len: s.len(), kind: SegKind::Copy });
    }

    /// Appends `s` standing for the source range `src..src_end`.
    pub(crate) fn replace(&mut self, s: &str, src: usize, src_end: usize, kind: SegKind) {
        if s.is_empty() {
            return;
        }
        let out = self.text.len();
        self.text.push_str(s);
        self.segs.push(Seg { out, out_len: s.len(), src, src_len: src_end.saturating_sub(src), kind });
    }

    fn seg_at(&self, pos: usize) -> Option<&Seg> {
        let i = self.segs.partition_point(|s| s.out + s.out_len <= pos);
        self.segs.get(i)
    }

    /// Maps a span of the derived text to the source.
    pub(crate) fn to_src(&self, start: usize, end: usize) -> (usize, usize) {
        let s = match self.seg_at(start) {
            Some(seg) if seg.kind == SegKind::Copy => seg.src + (start - seg.out),
            Some(seg) => seg.src,
            None => 0,
        };
        let e = match self.seg_at(end.saturating_sub(1).max(start)) {
            Some(seg) if seg.kind == SegKind::Copy => seg.src + (end.max(seg.out) - seg.out),
            Some(seg) => seg.src + seg.src_len,
            None => s,
        };
        (s, e.max(s))
    }

    /// Does the span contain a refanged token?
    pub(crate) fn refanged_in(&self, start: usize, end: usize) -> bool {
        let i = self.segs.partition_point(|s| s.out + s.out_len <= start);
        self.segs.iter().skip(i).take_while(|s| s.out < end).any(|s| s.kind == SegKind::Refanged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_map_back() {
        // source: "a&amp;b[.]c"
        let mut m = Mapped::default();
        m.copy("a", 0);
        m.replace("&", 1, 6, SegKind::Decoded);
        m.copy("b", 6);
        m.replace(".", 7, 10, SegKind::Refanged);
        m.copy("c", 10);
        assert_eq!(m.text, "a&b.c");
        assert_eq!(m.to_src(0, 5), (0, 11));
        assert_eq!(m.to_src(2, 3), (6, 7));
        assert_eq!(m.to_src(1, 2), (1, 6));
        assert!(m.refanged_in(2, 5));
        assert!(!m.refanged_in(0, 3));
    }
}
