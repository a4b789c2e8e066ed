"""Computes STIX 2.1 cyber-observable ids with python stix2 (3.0.2), the reference for §2.9.

stdin:  {"objects": [ {...}, ... ]}   SCOs without "id" (any "id" given is dropped first)
stdout: {"results": [ {"id": str} or {"error": str}, ... ]}   one per object, in order
"""
import json
import sys

import stix2


def compute(obj):
    obj = {k: v for k, v in obj.items() if k != "id"}
    try:
        parsed = stix2.parse(obj, allow_custom=False, version="2.1")
    except Exception as e:  # noqa: BLE001 - any refusal is reported back to the test
        return {"error": "%s: %s" % (type(e).__name__, e)}
    return {"id": parsed["id"]}


def main():
    request = json.load(sys.stdin)
    json.dump({"results": [compute(o) for o in request["objects"]]}, sys.stdout)


if __name__ == "__main__":
    main()
