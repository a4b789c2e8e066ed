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
import pathlib
import sys

from stix2validator import ValidationOptions, validate_instance
from stix2validator import validator as _validator


def share_schema_registry():
    """Makes stix2-validator resolve its schemas from one registry built once.

    Stock 3.2.0 builds a new `referencing.Registry` for every object and re-reads and re-crawls
    every schema it references through a file-retrieving callback: about 60% of its time. The
    documents are the same files, patched the same way (`patch_schema`) under the same file
    URIs the callback would have given them, so the verdicts do not change (`--check-registry`
    compares both on the input).
    """
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    schema_dir = pathlib.Path(_validator.__file__).parent / "schemas-2.1" / "schemas"
    resources = []
    for path in sorted(schema_dir.rglob("*.json")):
        if "examples" in path.parts:
            continue
        with open(path) as f:
            schema = _validator.patch_schema(json.load(f), str(path))
        resources.append((path.as_uri(), Resource.from_contents(schema)))
    fallback = Registry(retrieve=lambda uri: _validator.retrieve_from_filesystem(uri, str(schema_dir)))
    shared = fallback.with_resources(resources).crawl()

    def load_validator(schema_path, schema, schema_dir):
        schema = _validator.patch_schema(schema, schema_path)
        registry = shared.with_resource(schema_path, DRAFT202012.create_resource(schema))
        return _validator.STIXValidator(
            schema, registry=registry, format_checker=_validator.Draft202012Validator.FORMAT_CHECKER
        )

    _validator.load_validator = load_validator


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
    if "--check-registry" in sys.argv[1:]:
        todo = [line for line in sys.stdin if line.strip()]
        stock = [check_line(line) for line in todo]
        share_schema_registry()
        shared = [check_line(line) for line in todo]
        json.dump({"same": stock == shared, "results": shared}, sys.stdout)
        return
    share_schema_registry()
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
