#!/usr/bin/env python3
"""Template of a Harpoon script operation (protocol version 1, docs/operations.md): copy this file
and template.json, rename both, change the manifest's name and write your lookup in `run`.
Harpoon writes one JSON object on stdin and reads one JSON object from stdout; anything on stderr
is kept in the run; a non-zero exit status fails the run. The environment holds only PATH and
LANG: read what you need from `config` (keys declared in the manifest, values set by an admin in
`[operations.scripts.config.NAME]`). Standard library only.
"""

import json
import sys


def run(indicator, parameters, config):
    """Returns the result: observables, relationships, sightings, notes (all optional)."""
    value = indicator["value"]
    greeting = config.get("greeting", "looked at")
    return {
        "version": 1,
        # New values: they become Indirect indicators (or "review").
        "observables": [],
        # "indicator" is the run's indicator; other ends are {"type": ..., "value": ...}.
        "relationships": [],
        # {"count": n, "first_seen": RFC 3339, "last_seen": RFC 3339, "hosts": [...], "description": ...}
        "sightings": [],
        "notes": [f"{greeting} {indicator['type']} {value} (uppercase: {parameters.get('uppercase')})"],
    }


def main():
    request = json.load(sys.stdin)
    if request.get("version") != 1:
        print(f"unsupported protocol version {request.get('version')}", file=sys.stderr)
        sys.exit(2)
    result = run(request["indicator"], request.get("parameters", {}), request.get("config", {}))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
