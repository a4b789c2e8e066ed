"""Realistic STIX 2.1 content for the TAXII benchmark: indicators (SDOs) and the observables
(SCOs) they are based on, with deterministic SCO ids (UUIDv5 over the canonical JSON of the
id-contributing properties, as STIX 2.1 §2.9 says). Deterministic for a given seed."""

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
WORDS = (
    "secure login account update verify billing invoice payroll cloud drive share office "
    "portal support mail auth sso vpn docs files team hr it helpdesk notice alert"
).split()
TLDS = ["com", "net", "org", "info", "biz", "io", "co", "xyz", "online", "top"]
TLP_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
IDENTITY = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"


def _sco_id(kind, value):
    canonical = json.dumps({"value": value}, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return f"{kind}--{uuid.uuid5(SCO_NAMESPACE, canonical)}"


def _ts(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class Generator:
    """Yields objects in pairs: an SCO (domain-name, url or ipv4-addr) and an indicator whose
    pattern matches it. Every value is unique (it embeds a counter) so nothing is a duplicate."""

    def __init__(self, seed=2026, run_tag=""):
        self.rnd = random.Random(seed)
        self.n = 0
        self.tag = run_tag
        self.base = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def _value(self):
        r = self.rnd
        i = self.n
        kind = ("domain-name", "url", "ipv4-addr")[i % 3]
        host = f"{r.choice(WORDS)}-{r.choice(WORDS)}{self.tag}{i}.{r.choice(WORDS)}.{r.choice(TLDS)}"
        if kind == "domain-name":
            return kind, host, f"[domain-name:value = '{host}']"
        if kind == "url":
            url = f"https://{host}/{r.choice(WORDS)}/{r.choice(WORDS)}.php?id={r.randrange(10**6)}"
            return kind, url, f"[url:value = '{url}']"
        ip = f"{(i >> 24) % 223 + 1}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        return kind, ip, f"[ipv4-addr:value = '{ip}']"

    def pair(self):
        kind, value, pattern = self._value()
        self.n += 1
        created = self.base + timedelta(seconds=self.n, milliseconds=self.rnd.randrange(1000))
        sco = {"type": kind, "spec_version": "2.1", "id": _sco_id(kind, value), "value": value}
        ind = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.UUID(int=self.rnd.getrandbits(128), version=4)}",
            "created_by_ref": IDENTITY,
            "created": _ts(created),
            "modified": _ts(created),
            "name": f"Spear-phish {kind} {value[:60]}",
            "description": "Extracted from a reported spear-phishing email; seen in the body and "
            "in a link of the HTML part.",
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": _ts(created),
            "confidence": self.rnd.choice([50, 70, 85, 95]),
            "labels": ["spearphish"],
            "object_marking_refs": [TLP_GREEN],
        }
        return sco, ind

    def batch(self, count, scos=True):
        """`count` objects: SCO, indicator, SCO, ... or, with scos=False, indicators only (for
        servers that cannot store objects without `modified`)."""
        out = []
        while len(out) < count:
            sco, ind = self.pair()
            if scos:
                out.append(sco)
            if len(out) < count:
                out.append(ind)
        return out
