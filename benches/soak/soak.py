#!/usr/bin/env python3
"""Soak (issue 15, part 8). Run through `scripts/soak`.

One `harpoon serve` on a fresh database under mixed load for `--minutes`: corpus imports over
REST (every email of the corpus, then again with a distinct `X-Soak` header so the database keeps
growing), commits of drafts, indicators set Active (published to TAXII), url-to-fqdn operation
runs (the built-in operation: no network), TAXII polls of `active-indicators` and POSTs of
indicators to a collection, export feeds, UI page views (dashboard, drafts list, a QA page).
Each minute: the server's RSS, open file descriptors and threads, requests, errors and the p99 of
every kind of request in that minute. At the end: the trend of RSS and descriptors (least squares
over the minutes after the first two, as the caches fill then) and a verdict. Standard library
only; traffic to 127.0.0.1 only; the server and its database are removed at the end.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import TAXII, Server, indicators, log, open_fds, percentile, request, rss_kib, ui_session  # noqa: E402


def sqlite_heap_mib(pid):
    """SQLite's own heap (page caches, statements): SQLITE_STATUS_MEMORY_USED, the first 64-bit
    counter of SQLite's static `sqlite3Stat`, read through gdb (the release build keeps its
    symbols; calling `sqlite3_memory_used()` fails here, gdb cannot restore AVX-512 state). Stops
    the server for about a second: only with --probe-sqlite, to tell SQLite's caches from the rest
    of the RSS."""
    out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "x/1gx &sqlite3Stat"],
                         capture_output=True, text=True, timeout=120).stdout
    for line in out.splitlines():
        if "<sqlite3Stat>:" in line:
            return int(line.split()[-1], 16) / (1 << 20)
    return None


def malloc_arenas_mib(pid):
    """RSS of glibc malloc's heaps: [heap] and its per-thread arenas (anonymous mappings of at most
    64 MiB starting on a 64 MiB boundary). What C code allocates when mimalloc does not override
    malloc; near zero when it does."""
    total, start, take = 0, 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
            if head:
                start, end, name = int(head.group(1), 16), int(head.group(2), 16), head.group(3)
                take = name == "[heap]" or (not name and start % (64 << 20) == 0 and end - start <= 64 << 20)
            elif take and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total / 1024


def slope(points):
    """Least-squares slope of (x, y) points, per unit of x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--corpus", required=True, help="directory with phishing/ and benign/")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--out", required=True, help="markdown file to write")
    ap.add_argument("--probe-sqlite", action="store_true",
                    help="read SQLite's heap each minute through gdb (pauses the server ~1 s)")
    args = ap.parse_args()
    server = Server(args.binary, args.backend, args.pg_url, None)
    try:
        run(server, args)
    finally:
        server.stop()


def run(server, args):
    port = server.port
    server.cli("collection", "add", "Soak", "--alias", "soak")
    token = server.cli("token", "create", "admin", "--label", "soak")
    api = {"Authorization": f"Bearer {token}"}
    taxii = dict(api, Accept=TAXII)
    cookie = ui_session(port, server.password)
    status, _, body, _ = request(port, "POST", "/api/v1/exports", body=json.dumps(
        {"name": "soak-text", "format": "text"}), headers=dict(api, **{"Content-Type": "application/json"}))
    assert status in (200, 201), (status, body[:300])
    files = []
    for sub in ("phishing", "benign"):
        d = os.path.join(args.corpus, sub)
        files += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".eml")]
    assert files, f"no .eml under {args.corpus}"

    lock = threading.Lock()
    samples = []  # (minute, kind, ok, seconds)
    started = time.time()
    deadline = started + args.minutes * 60
    stop = threading.Event()

    def call(kind, method, path, body=None, headers=None, ok=(200, 201, 202, 204, 303)):
        try:
            status, hdrs, data, secs = request(port, method, path, body=body, headers=headers, timeout=120)
            good = status in ok
        except OSError as e:
            status, hdrs, data, secs, good = str(e), {}, b"", float("nan"), False
        with lock:
            samples.append((int((time.time() - started) // 60), kind, good, secs, status))
        return status, data

    def loop(every, fn):
        def body():
            n = 0
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    fn(n)
                except Exception as e:  # a bug in the load, not in the server: keep going, count it
                    with lock:
                        samples.append((int((time.time() - started) // 60), "soak-script", False, 0.0, repr(e)))
                n += 1
                stop.wait(max(0.0, every - (time.perf_counter() - t)))
        return threading.Thread(target=body, daemon=True)

    def do_import(n):
        path = files[n % len(files)]
        with open(path, "rb") as f:
            raw = f.read()
        if n >= len(files):
            raw = f"X-Soak: {n}\r\n".encode() + raw
        call("import", "POST", "/api/v1/imports", body=raw,
             headers=dict(api, **{"Content-Type": "message/rfc822"}), ok=(200, 201, 400))

    def do_commit(_n):
        status, data = call("list drafts", "GET", "/api/v1/imports?state=draft&limit=3", headers=api)
        if status != 200:
            return
        for imp in json.loads(data).get("imports", [])[:1]:
            call("commit", "POST", f"/api/v1/imports/{imp['id']}/commit", body="{}",
                 headers=dict(api, **{"Content-Type": "application/json"}), ok=(200, 201, 409))

    def do_triage(_n):
        status, data = call("list indicators", "GET", "/api/v1/indicators?status=review&type=url&limit=5",
                            headers=api)
        if status != 200:
            return
        listed = json.loads(data)
        items = listed.get("indicators", listed if isinstance(listed, list) else [])
        for ind in items[:1]:
            call("operation run", "POST", f"/api/v1/indicators/{ind['id']}/operations/url-to-fqdn/runs",
                 body="", headers=api, ok=(202,))
            call("set active", "PATCH", f"/api/v1/indicators/{ind['id']}", body=json.dumps(
                {"status": "active", "reason": "soak"}), headers=dict(api, **{"Content-Type": "application/json"}))

    def do_poll(_n):
        call("TAXII poll", "GET", "/taxii2/root/collections/active-indicators/objects/?limit=100", headers=taxii)

    def do_post_objects(_n):
        call("TAXII add", "POST", "/taxii2/root/collections/soak/objects/",
             body=json.dumps({"objects": indicators(100)}), headers=dict(taxii, **{"Content-Type": TAXII}))

    def do_export(_n):
        call("export feed", "GET", "/api/v1/exports/soak-text/feed", headers=api)

    def do_ui(n):
        page = ["/ui", "/ui/drafts", "/ui/indicators", "/ui/events"][n % 4]
        call("UI page", "GET", page, headers={"Cookie": cookie})
        if n % 4 == 1:
            status, data = call("list drafts", "GET", "/api/v1/imports?limit=1", headers=api)
            if status == 200:
                for imp in json.loads(data).get("imports", [])[:1]:
                    call("UI QA page", "GET", f"/ui/drafts/{imp['id']}", headers={"Cookie": cookie})

    threads = [loop(0.25, do_import), loop(2, do_commit), loop(3, do_triage), loop(0.2, do_poll),
               loop(5, do_post_objects), loop(10, do_export), loop(1, do_ui)]
    for t in threads:
        t.start()
    minutes = []
    pid = server.proc.pid
    next_sample = started + 60
    while time.time() < deadline:
        time.sleep(max(0.0, min(next_sample, deadline) - time.time()))
        if time.time() >= next_sample or time.time() >= deadline:
            minute = len(minutes)
            with open(f"/proc/{pid}/status") as f:
                threads_n = next((int(l.split()[1]) for l in f if l.startswith("Threads:")), 0)
            with lock:
                mine = [s for s in samples if s[0] == minute]
            rss = rss_kib(pid, "VmRSS") // 1024
            parts = (rss_kib(pid, "RssAnon") // 1024, rss_kib(pid, "RssFile") // 1024,
                     sqlite_heap_mib(pid) if args.probe_sqlite else None, malloc_arenas_mib(pid))
            fds = open_fds(pid)
            minutes.append((minute, rss, fds, threads_n, mine, parts))
            errors = [s for s in mine if not s[2]]
            log(f"minute {minute + 1}: RSS {rss} MiB {parts}, {fds} fds, {len(mine)} requests, {len(errors)} errors")
            next_sample += 60
    stop.set()
    for t in threads:
        t.join(timeout=130)
    write(args, minutes, server)


def write(args, minutes, server):
    kinds = ["import", "commit", "operation run", "TAXII poll", "TAXII add", "export feed", "UI page", "UI QA page"]
    lines = [
        f"| minute | RSS MiB | anon | file | SQLite heap | glibc malloc arenas | open fds | threads | requests | errors | "
        + " | ".join(f"p99 {k} (ms)" for k in kinds) + " |",
        "|" + "---|" * (10 + len(kinds)),
    ]
    all_errors = []
    for minute, rss, fds, threads_n, mine, (anon, file, sqlite, arenas) in minutes:
        errors = [s for s in mine if not s[2]]
        all_errors += errors
        p99 = []
        for k in kinds:
            secs = [s[3] for s in mine if s[1] == k and s[2]]
            p99.append(f"{percentile(secs, 99) * 1000:.0f}" if secs else "—")
        heap = "—" if sqlite is None else f"{sqlite:.1f}"
        lines.append(f"| {minute + 1} | {rss} | {anon} | {file} | {heap} | {arenas:.1f} | {fds} | {threads_n} | {len(mine)} | "
                     f"{len(errors)} | "
                     + " | ".join(p99) + " |")
    settled = [(m, rss) for m, rss, *_ in minutes if m >= 2]
    settled_fds = [(m, fds) for m, _, fds, *_ in minutes if m >= 2]
    rss_slope = slope(settled)
    fd_slope = slope(settled_fds)
    by_kind = {}
    for s in all_errors:
        by_kind.setdefault((s[1], str(s[4])), 0)
        by_kind[(s[1], str(s[4]))] += 1
    total = sum(len(m[4]) for m in minutes)
    verdict = ("no upward trend" if rss_slope < 1.0 and fd_slope < 0.5 else "UPWARD TREND") + \
        (", no error" if not all_errors else f", {len(all_errors)} errors")
    with open(args.out, "w") as f:
        f.write(f"# Soak {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} (UTC)\n\n")
        f.write(f"`scripts/soak --minutes {args.minutes:g} --backend {args.backend}` on {os.cpu_count()} cores; "
                f"release build; {total} requests.\n\n")
        f.write(f"**{verdict}**: RSS {rss_slope:+.2f} MiB/min and open fds {fd_slope:+.2f}/min "
                "(least squares from minute 3 on).\n\n")
        f.write("\n".join(lines) + "\n")
        if by_kind:
            f.write("\nErrors by request kind and status:\n\n")
            for (k, st), n in sorted(by_kind.items()):
                f.write(f"- {k}: {st} × {n}\n")
    with open(args.out) as f:
        print(f.read())


if __name__ == "__main__":
    main()
