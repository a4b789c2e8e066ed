#!/usr/bin/env python3
"""The MISP oracle: reads a MISP feed as PyMISP does and says what it found.

stdin: {"manifest": {uuid: entry}, "hashes": "hashes.csv text", "events": {uuid: {"Event": ...}}}
stdout: {"problems": [...], "events": {uuid: {"info", "orgc", "tags", "attributes": [...]}}}

Each event is checked against MISP's strict event schema (pymisp/data/schema.json), loaded with
MISPEvent().load(), its attributes' type/category pairs checked against MISP's describeTypes.json;
then PyMISP's own feed metadata generator (pymisp.tools.feed.feed_meta_generator) writes the
manifest.json and hashes.csv of those event files, which must equal the ones served.
"""

import json
import sys
import tempfile
from pathlib import Path

import jsonschema
import pymisp
from pymisp import MISPEvent
from pymisp.tools.feed import feed_meta_generator


def norm(value):
    """Comparable form: scalars as text, tag lists as their names."""
    if isinstance(value, list):
        if all(isinstance(v, dict) and "name" in v for v in value):
            return sorted(v["name"] for v in value)
        return [norm(v) for v in value]
    if isinstance(value, dict):
        return {k: norm(v) for k, v in sorted(value.items())}
    if isinstance(value, bool):
        return value
    return str(value)


def main():
    data = json.load(sys.stdin)
    manifest, hashes, events = data["manifest"], data["hashes"], data["events"]
    pkg = Path(pymisp.__file__).parent / "data"
    validator = jsonschema.Draft4Validator(json.loads((pkg / "schema.json").read_text()))
    describe = json.loads((pkg / "describeTypes.json").read_text())["result"]
    problems, loaded = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for uuid, doc in events.items():
            for e in sorted(validator.iter_errors(doc), key=str):
                problems.append(f"{uuid}: schema: {e.message} at {list(e.absolute_path)}")
            (folder / f"{uuid}.json").write_text(json.dumps(doc))
            event = MISPEvent(strict_validation=True)
            event.load(json.dumps(doc))
            if event.uuid != uuid:
                problems.append(f"{uuid}.json holds event {event.uuid}")
            attributes = []
            for a in event.attributes:
                if a.type not in describe["category_type_mappings"].get(a.category, []):
                    problems.append(f"{uuid}: {a.type} is not a type of category {a.category}")
                attributes.append({
                    "uuid": a.uuid, "type": a.type, "category": a.category, "value": a.value,
                    "to_ids": bool(a.to_ids), "comment": a.comment,
                    "tags": [t.name for t in a.tags],
                })
            loaded[uuid] = {
                "info": event.info, "orgc": event.Orgc.name, "date": event.date.isoformat(),
                "threat_level_id": str(event.threat_level_id),
                "tags": [t.name for t in event.tags], "attributes": attributes,
            }
        feed_meta_generator(folder)
        theirs = json.loads((folder / "manifest.json").read_text())
        their_hashes = sorted((folder / "hashes.csv").read_text().split())
    if sorted(theirs) != sorted(manifest):
        problems.append(f"manifest lists {sorted(manifest)}, the events are {sorted(theirs)}")
    for uuid, entry in theirs.items():
        ours = manifest.get(uuid, {})
        for key, value in entry.items():
            if norm(ours.get(key)) != norm(value):
                problems.append(f"manifest {uuid} {key}: served {ours.get(key)!r}, PyMISP {value!r}")
    if sorted(hashes.split()) != their_hashes:
        problems.append(f"hashes.csv: served {sorted(hashes.split())}, PyMISP {their_hashes}")
    print(json.dumps({"problems": problems, "events": loaded}))


if __name__ == "__main__":
    main()
