#!/usr/bin/env python3
"""Compares the values two `harpoon` binaries propose over the corpus (issue 16 measurements).

    python3 benches/extract/compare.py BEFORE_BIN AFTER_BIN CORPUS OUT.json
    python3 benches/extract/compare.py BEFORE.json AFTER.json CORPUS OUT.json

BEFORE/AFTER are `harpoon` binaries, or the values two builds of the extract bench wrote
(`BENCH_VALUES=before.json HARPOON_CORPUS=CORPUS cargo bench --bench extract`: same defaults,
no binary to link).

Runs `harpoon extract --format json` on every file of CORPUS/{phishing,msg,benign} in batches,
keeps the proposed (not whitelisted) values per email, and writes per-type counts, the emails
gaining at least one URL, and every new value with the text location it came from.
"""
import collections
import json
import os
import subprocess
import sys


def run(binary, files):
    out = {}
    for i in range(0, len(files), 40):
        batch = files[i : i + 40]
        r = subprocess.run([binary, "extract", "--format", "json", *batch], capture_output=True, cwd="/tmp")
        try:
            docs = json.loads(r.stdout)
        except ValueError:
            docs = [None] * len(batch)
        by_input = {d.get("input"): d for d in docs if isinstance(d, dict)}
        for f in batch:
            d = by_input.get(f)
            vals = {}
            if d:
                x = d["extraction"]
                for o in x["observables"]:
                    if o.get("whitelisted") is None:
                        locs = []
                        for p in o["provenance"][:1]:
                            t = x["texts"][p["text"]]["location"]
                            locs.append(t.get("kind", "") + ":" + str(t.get("name") or t.get("image") or t.get("content_type") or ""))
                        vals[o["kind"] + ":" + o["value"]] = locs
            out[f] = vals
    return out


def main():
    before_bin, after_bin, corpus, out_path = sys.argv[1:5]
    files = []
    for folder in ["phishing", "msg", "benign"]:
        d = os.path.join(corpus, folder)
        files += sorted(os.path.join(d, n) for n in os.listdir(d))
    def values(source):
        if source.endswith(".json"):
            # Keys are paths relative to the corpus: make them the paths used here.
            return {os.path.join(corpus, k): v for k, v in json.load(open(source)).items()}
        return run(source, files)

    before = values(before_bin)
    after = values(after_bin)
    per_type = collections.defaultdict(lambda: [0, 0])
    gained_url = []
    new_values = []
    lost_values = []
    for f in files:
        b, a = before.get(f, {}), after.get(f, {})
        for k in b:
            per_type[k.split(":", 1)[0]][0] += 1
        for k in a:
            per_type[k.split(":", 1)[0]][1] += 1
        new = [k for k in a if k not in b]
        lost = [k for k in b if k not in a]
        if any(k.startswith("url:") for k in new):
            gained_url.append(os.path.relpath(f, corpus))
        new_values += [(os.path.relpath(f, corpus), k, a[k]) for k in new]
        lost_values += [(os.path.relpath(f, corpus), k) for k in lost]
    # Values proposed from Received headers (origin and sender-owned hops), per folder.
    received = collections.defaultdict(lambda: [0, 0])
    received_changes = []
    for f in files:
        folder = os.path.relpath(f, corpus).split(os.sep, 1)[0]
        hops = [{k for k, locs in side.get(f, {}).items() if "header:Received" in locs} for side in (before, after)]
        received[folder][0] += len(hops[0])
        received[folder][1] += len(hops[1])
        received_changes += [(os.path.relpath(f, corpus), "LOST " + k) for k in sorted(hops[0] - hops[1])]
        received_changes += [(os.path.relpath(f, corpus), "NEW " + k) for k in sorted(hops[1] - hops[0])]
    result = {
        "emails": len(files),
        "received_hop_values_before_after": dict(sorted(received.items())),
        "received_hop_changes": received_changes,
        "per_type_before_after": dict(sorted(per_type.items())),
        "emails_gaining_a_url": gained_url,
        "new_values": new_values,
        "lost_values": lost_values,
    }
    with open(out_path, "w") as fh:
        json.dump(result, fh, indent=1)
    print(json.dumps({k: (v if not isinstance(v, list) else len(v)) for k, v in result.items()}, indent=1))


if __name__ == "__main__":
    main()
