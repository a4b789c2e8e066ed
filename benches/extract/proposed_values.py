#!/usr/bin/env python3
"""Proposed values per corpus file, for before/after comparisons of extraction changes.

Usage: proposed_values.py HARPOON_BINARY CORPUS_DIR OUT.json
       proposed_values.py --diff BEFORE.json AFTER.json
Runs `harpoon extract --format json` on every file (standard library only) and writes
{relative path: ["kind:value", ...]} of the proposed (not whitelisted) observables.
"""
import json
import os
import subprocess
import sys
from collections import Counter


def collect(binary, corpus, out):
    result = {}
    for root, _, files in os.walk(corpus):
        for f in sorted(files):
            if f.endswith(".md"):
                continue
            path = os.path.join(root, f)
            p = subprocess.run([binary, "extract", "--format", "json", path], capture_output=True)
            vals = []
            try:
                for x in json.loads(p.stdout or b"null") or []:
                    ext = x.get("extraction", x) if isinstance(x, dict) else {}
                    for o in ext.get("observables", []):
                        if o.get("whitelisted") is None:
                            vals.append(f"{o['kind']}:{o['value']}")
            except (ValueError, AttributeError):
                vals = ["error:" + p.stderr.decode(errors="replace")[:200]]
            result[os.path.relpath(path, corpus)] = sorted(set(vals))
    with open(out, "w") as fh:
        json.dump(result, fh, indent=0, sort_keys=True)


def diff(before_path, after_path):
    before = json.load(open(before_path))
    after = json.load(open(after_path))
    kb, ka = Counter(), Counter()
    gained_url = []
    new_values = []
    for f in sorted(set(before) | set(after)):
        b, a = set(before.get(f, [])), set(after.get(f, []))
        for v in b:
            kb[v.split(":", 1)[0]] += 1
        for v in a:
            ka[v.split(":", 1)[0]] += 1
        new = sorted(a - b)
        if any(v.startswith("url:") for v in new):
            gained_url.append(f)
        new_values += [(f, v) for v in new]
        for v in sorted(b - a):
            new_values.append((f, "LOST " + v))
    print("kind       before   after")
    for k in sorted(set(kb) | set(ka)):
        print(f"{k:10} {kb[k]:7} {ka[k]:7}")
    print(f"emails gaining >=1 URL: {len(gained_url)}")
    for f in gained_url:
        print("  ", f)
    print(f"changed values: {len(new_values)}")
    for f, v in new_values:
        print(f"  {f}: {v}")


if __name__ == "__main__":
    if sys.argv[1] == "--diff":
        diff(sys.argv[2], sys.argv[3])
    else:
        collect(sys.argv[1], sys.argv[2], sys.argv[3])
