#!/usr/bin/env python3
"""Harpoon script operation (protocol version 1, docs/operations.md): searches a local Suricata
eve.json for the indicator's value (an IP as source or destination, a domain as DNS query, HTTP
host or TLS SNI, a URL as HTTP host + path) in the last N days and reports one sighting naming
the internal hosts. Standard library only.

Input (stdin):  {"version":1,"indicator":{"type":"ipv4","value":"..."},"parameters":{"days":7},
                 "config":{"eve_file":"/var/log/suricata/eve.json"},...}
Output (stdout): {"version":1,"sightings":[...],"notes":[...],"hosts":[...],"sample":[...]}
"""

import datetime
import json
import sys

MAX_SAMPLE = 5


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def parse_time(text):
    # Suricata writes 2026-11-30T10:00:00.123456+0000
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.datetime.strptime(text, fmt)
        except (TypeError, ValueError):
            pass
    return None


def internal_host(event, kind, value):
    """The host on our side of the event: the other end of a matching IP, else the client."""
    src, dest = event.get("src_ip"), event.get("dest_ip")
    if kind in ("ipv4", "ipv6"):
        if dest == value:
            return src
        if src == value:
            return dest
    return src


def matches(event, kind, value):
    if kind in ("ipv4", "ipv6"):
        return value in (event.get("src_ip"), event.get("dest_ip"))
    dns = event.get("dns") or {}
    http = event.get("http") or {}
    tls = event.get("tls") or {}
    if kind == "domain":
        names = {dns.get("rrname"), http.get("hostname"), tls.get("sni")}
        names.update(q.get("rrname") for q in dns.get("queries", []) if isinstance(q, dict))
        return value in {n.lower().rstrip(".") for n in names if isinstance(n, str)}
    if kind == "url":
        host, path = http.get("hostname"), http.get("url")
        if not host or not path:
            return False
        for scheme in ("http://", "https://"):
            if value == scheme + host.lower() + path:
                return True
    return False


def main():
    try:
        request = json.load(sys.stdin)
    except ValueError as e:
        fail(f"the input is not JSON: {e}")
    if request.get("version") != 1:
        fail(f"protocol version {request.get('version')} is not supported (this script speaks 1)")
    indicator = request["indicator"]
    kind, value = indicator["type"], indicator["value"]
    eve_file = request.get("config", {}).get("eve_file")
    if not eve_file:
        fail("config key eve_file is not set (operations.scripts.config.suricata-eve.eve_file)")
    days = int(request.get("parameters", {}).get("days", 7))
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)

    times, hosts, sample = [], [], []
    try:
        with open(eve_file, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a half-written last line
                if not isinstance(event, dict) or not matches(event, kind, value):
                    continue
                at = parse_time(event.get("timestamp"))
                if at is None or at < since:
                    continue
                times.append(at)
                host = internal_host(event, kind, value)
                if host and host not in hosts:
                    hosts.append(host)
                if len(sample) < MAX_SAMPLE:
                    sample.append(event)
    except OSError as e:
        fail(f"cannot read {eve_file}: {e}")

    result = {"version": 1, "hosts": hosts, "sample": sample}
    if times:
        result["sightings"] = [{
            "count": len(times),
            "first_seen": min(times).isoformat(),
            "last_seen": max(times).isoformat(),
            "hosts": hosts,
            "description": f"Suricata eve.json ({eve_file}), last {days} days: {len(times)} events",
        }]
    else:
        result["notes"] = [f"Suricata: no events for {value} in the last {days} days ({eve_file})"]
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
