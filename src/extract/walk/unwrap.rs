//! Redirect and link-rewriting wrappers met during the walk: each one's target is decoded
//! (`extract/wrappers`) into a text of its own, `Location::Decoded { how: "unwrapped from …" }`,
//! and scanned like any text, so nested wrappers unwrap in turn (bounded by [`MAX_UNWRAP`]).
//! At the end the wrapper is marked `redirect_wrapper` with the targets it hides.

use std::collections::HashMap;

use super::super::model::*;
use super::super::scan::{self, Mode};
use super::super::value::{self, ObservableKind};
use super::super::wrappers::{self, WrapperKind};
use super::Collector;

/// Wrappers inside wrappers followed (Safe Links around Proofpoint around Google is three).
const MAX_UNWRAP: usize = 4;
/// Distinct wrappers decoded per input; the rest are still found, not decoded.
const MAX_WRAPPERS: usize = 2_000;

/// One wrapper URL: its kind and the canonical URLs it decodes to.
pub(crate) struct WrapperSeen {
    kind: WrapperKind,
    targets: Vec<String>,
}

impl Collector<'_> {
    /// Called for every URL found at `span` of text `text`: a wrapper's target becomes a
    /// decoded text of its own, scanned in turn.
    pub(super) fn unwrap_url(&mut self, text: usize, mi: usize, url: &str, span: (usize, usize)) {
        if self.unwrap_depth >= MAX_UNWRAP
            || self.wrappers.contains_key(url)
            || self.wrappers.len() >= MAX_WRAPPERS
        {
            return;
        }
        let Some(w) = wrappers::unwrap(url) else {
            return;
        };
        self.wrappers.insert(url.to_owned(), WrapperSeen { kind: w.kind, targets: Vec::new() });
        let Some(target) = w.target else {
            return;
        };
        let how = format!("unwrapped from {}", w.kind.name());
        let loc = Location::Decoded { text, start: span.0, end: span.1, how };
        let id = self.add_text(mi, loc, target, 64 * 1024);
        let (found, _) = scan::scan(self.text_of(id), Mode::Code, &[], 64);
        let targets: Vec<String> = found
            .iter()
            .filter(|f| f.value.kind == ObservableKind::Url)
            .map(|f| f.value.value.clone())
            .collect();
        if let Some(seen) = self.wrappers.get_mut(url) {
            seen.targets = targets;
        }
        self.unwrap_depth += 1;
        for f in found {
            self.add_found(id, mi, f);
        }
        self.unwrap_depth -= 1;
    }
}

/// Marks wrapper URLs that decoded to a target `redirect_wrapper`, and the host names of dedicated
/// gateways (Safe Links, Proofpoint, …) too: neither is the attacker's.
pub(super) fn mark_wrappers(observables: &mut [Observable], seen: &HashMap<String, WrapperSeen>) {
    let gateway_hosts: Vec<String> = seen
        .iter()
        .filter(|(_, w)| w.kind.dedicated_host())
        .filter_map(|(u, _)| value::parse_url(u).map(|p| p.host.value))
        .collect();
    for o in observables {
        match o.indicator.kind {
            ObservableKind::Url => {
                // A wrapper that hides no readable target (Mimecast, a cut link) stays proposed:
                // it is the only handle on the phish.
                if let Some(w) = seen.get(&o.indicator.value).filter(|w| !w.targets.is_empty()) {
                    o.unwraps_to.clone_from(&w.targets);
                    if o.whitelisted.is_none() {
                        o.whitelisted = Some(WhitelistReason::RedirectWrapper);
                    }
                }
            }
            ObservableKind::Domain
                if o.whitelisted.is_none() && gateway_hosts.contains(&o.indicator.value) =>
            {
                o.whitelisted = Some(WhitelistReason::RedirectWrapper);
            }
            _ => {}
        }
    }
}
