"""Computes STIX 2.1 cyber-observable ids with python stix2 (3.0.2), the reference for §2.9.

stdin:  {"objects": [ {...}, ... ]}   SCOs (any "id" given is dropped before computing)
stdout: {"results": [ {"id": str} or {"error": str}, ... ]}   one per object, in order; when the
        object had an "id" and python's is a UUIDv5 (some ID-contributing property present),
        "matches" says whether the given id is exactly python's: the verdict on a received id.
"""
import json
import sys
import uuid

import stix2


def compute(obj):
    given = obj.get("id")
    obj = {k: v for k, v in obj.items() if k != "id"}
    try:
        parsed = stix2.parse(obj, allow_custom=False, version="2.1")
    except Exception as e:  # noqa: BLE001 - any refusal is reported back to the test
        return {"error": "%s: %s" % (type(e).__name__, e)}
    result = {"id": parsed["id"]}
    if given is not None and uuid.UUID(parsed["id"].split("--", 1)[1]).version == 5:
        result["matches"] = given == parsed["id"]
    return result


def main():
    request = json.load(sys.stdin)
    json.dump({"results": [compute(o) for o in request["objects"]]}, sys.stdout)


if __name__ == "__main__":
    main()
