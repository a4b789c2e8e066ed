"""Validates STIX objects with the OASIS stix2-validator (3.2.0) in strict mode.

stdin:  {"objects": [ {...}, ... ]}   each object is validated on its own (wrapped in no bundle)
        or {"bundle": {...}}            one bundle validated as a whole
stdout: {"results": [ {"valid": bool, "errors": [str], "warnings": [str]} , ... ]}

With --lines (many bundles in one process, e.g. a whole email corpus):
stdin:  one JSON object per line, {"label": str, "bundle": {...}}
stdout: {"results": [ {"label": str, "valid": bool, "errors": [str], "warnings": [str]}, ... ]}
        in input order. Lines are validated by HARPOON_ORACLE_WORKERS processes (default: 2, at
        most the CPU count); the validator is pure Python and single-threaded.
"""
import json
import multiprocessing
import os
import sys

from stix2validator import ValidationOptions, validate_instance


def check(instance):
    options = ValidationOptions(version="2.1", strict=True)
    try:
        result = validate_instance(instance, options)
    except Exception as exc:  # the validator itself trips on some malformed objects
        return {"valid": False, "errors": [f"validator raised {type(exc).__name__}: {exc}"], "warnings": []}
    return {
        "valid": bool(result.is_valid),
        "errors": [str(e.message) if hasattr(e, "message") else str(e) for e in result.errors],
        "warnings": [str(w) for w in (result.warnings or [])],
    }


def check_line(line):
    request = json.loads(line)
    result = check(request["bundle"])
    result["label"] = request.get("label", "")
    return result


def lines():
    workers = int(os.environ.get("HARPOON_ORACLE_WORKERS", "2"))
    workers = max(1, min(workers, os.cpu_count() or 1))
    todo = (line for line in sys.stdin if line.strip())
    if workers == 1:
        results = [check_line(line) for line in todo]
    else:
        with multiprocessing.Pool(workers) as pool:
            results = list(pool.imap(check_line, todo, chunksize=4))
    json.dump({"results": results}, sys.stdout)


def main():
    if "--lines" in sys.argv[1:]:
        lines()
        return
    request = json.load(sys.stdin)
    if "bundle" in request:
        results = [check(request["bundle"])]
    else:
        results = [check(obj) for obj in request["objects"]]
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
