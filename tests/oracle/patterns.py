"""Judges STIX 2.1 patterns with the OASIS `stix2-patterns` validator (pinned in requirements.txt).

With --lines: stdin holds one JSON string (a pattern) per line; stdout is
{"results": ["valid" | "invalid" | "raised: <exception>", ...]} in input order. "raised" is the
validator itself failing on a pattern (it crashes on some grammatical ones, e.g. a negative list
index); the caller decides what that means. One process for the whole batch: ANTLR's start-up
is most of the cost of a single check.
"""
import json
import sys

from stix2patterns.validator import validate


def judge(pattern):
    try:
        return "valid" if validate(pattern, stix_version="2.1") else "invalid"
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        return f"raised: {type(exc).__name__}: {exc}"


def main():
    if "--lines" not in sys.argv[1:]:
        sys.exit("usage: patterns.py --lines < one JSON string per line")
    results = [judge(json.loads(line)) for line in sys.stdin if line.strip()]
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
