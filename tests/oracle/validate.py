"""Validates STIX objects with the OASIS stix2-validator (3.2.0) in strict mode.

stdin:  {"objects": [ {...}, ... ]}   each object is validated on its own (wrapped in no bundle)
        or {"bundle": {...}}            one bundle validated as a whole
stdout: {"results": [ {"valid": bool, "errors": [str], "warnings": [str]} , ... ]}
"""
import json
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


def main():
    request = json.load(sys.stdin)
    if "bundle" in request:
        results = [check(request["bundle"])]
    else:
        results = [check(obj) for obj in request["objects"]]
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
