#!/usr/bin/env python3
"""No request starves the rest (issue 15, part 5). Run through `scripts/bench-starvation`.

One `harpoon serve` (SQLite or PostgreSQL, a fresh database) with a TAXII collection of 1,000
indicators and a UI session. First the quiet figures: TAXII first page (`objects/?limit=100`, a
token) and a UI page (`/ui`, the dashboard) with nothing else running. Then the load: an mbox of
`--queued` corpus emails posted in one request (1,000 imports queued in the server) and
`--pushes` clients each pushing distinct emails of `--push-mb` MB (a text part and a base64
attachment) one after the other, honouring `Retry-After` when told to come back later; while they
run, the TAXII first page is fetched every 50 ms and the UI page every second by their own
clients, in processes of their own. Reported: p50/p99/max of both, errors, pushes accepted/refused, imports stored, the
server's RSS (peak VmHWM). Standard library only; traffic to 127.0.0.1 only; everything it starts
is stopped on exit.
"""

import argparse
import base64
import json
import multiprocessing
import os
import random
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import TAXII, Server, indicators, log, ms, percentile, request, rss_kib, ui_session  # noqa: E402


def attachment(mb):
    """About `mb` MB of base64 (CRLF lines) over random bytes, shared by every push."""
    rnd = random.Random(15)
    block = bytes(rnd.getrandbits(8) for _ in range(1 << 16))
    payload = block * max(1, mb * (1 << 20) * 3 // 4 // len(block))
    return base64.encodebytes(payload).replace(b"\n", b"\r\n")


def big_email(n, b64):
    """Push `n`: distinct headers (so distinct bytes, never a duplicate) around the attachment."""
    head = (f"From: \"Payroll\" <payroll@push-{n}.bench-evil.example>\r\nTo: alice@corp.example\r\n"
            f"Subject: Salary review #{n}\r\nMessage-ID: <push-{n}-{uuid.uuid4()}@bench-evil.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
            f"Content-Type: text/plain\r\n\r\nSee http://payroll-{n}.bench-evil.example/review\r\n--b\r\n"
            "Content-Type: application/octet-stream; name=\"review.bin\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode()
    return head + b64 + b"\r\n--b--\r\n"


def corpus_mbox(corpus, count):
    # The corpus root (phishing/, benign/) or one of its folders: every .eml under it.
    files = sorted(os.path.join(d, n) for d, _, names in os.walk(corpus) for n in names if n.endswith(".eml"))
    files = files[:count]
    out = bytearray()
    for path in files:
        with open(path, "rb") as f:
            raw = f.read().replace(b"\r\n", b"\n")
        out += b"From bench@example.org Mon Jan  1 00:00:00 2024\n"
        for line in raw.split(b"\n"):
            out += (b">" + line if line.startswith(b"From ") else line) + b"\n"
        out += b"\n"
    return bytes(out), len(files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--label", default="this build")
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--pushes", type=int, default=16)
    ap.add_argument("--push-mb", type=int, default=48)
    ap.add_argument("--queued", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60, help="length of the loaded window")
    ap.add_argument("--out", required=True, help="file to append the markdown rows to")
    ap.add_argument("--nice-load", action="store_true",
                    help="run the pushers at nice 19 (they stand in for senders on other machines; "
                         "by default they run at the server's priority, the harder case)")
    args = ap.parse_args()

    server = Server(args.binary, args.backend, args.pg_url, None)
    try:
        run(server, args)
    finally:
        server.stop()


def run(server, args):
    port = server.port
    server.cli("collection", "add", "Starvation", "--alias", "bench")
    token = server.cli("token", "create", "admin", "--label", "bench")
    bearer = {"Authorization": f"Bearer {token}", "Accept": TAXII}
    objects = "/taxii2/root/collections/bench/objects/"
    for start in range(0, 1000, 500):
        envelope = json.dumps({"objects": indicators(500)})
        status, _, body, _ = request(port, "POST", objects, body=envelope,
                                     headers=dict(bearer, **{"Content-Type": TAXII}))
        assert status == 202, (status, body[:300])
    cookie = ui_session(port, server.password)
    ui = {"Cookie": cookie}
    first_page = objects + "?limit=100"

    def taxii_once():
        status, _, _, secs = request(port, "GET", first_page, headers=bearer)
        return status, secs

    def ui_once():
        status, _, _, secs = request(port, "GET", "/ui", headers=ui)
        return status, secs

    # Quiet figures.
    for _ in range(20):
        taxii_once()
    quiet_taxii = [taxii_once() for _ in range(200)]
    quiet_ui = [ui_once() for _ in range(20)]
    rss_quiet = rss_kib(server.proc.pid, "VmRSS")

    log(f"{args.label}: building {args.pushes} emails of {args.push_mb} MB and an mbox of {args.queued}")
    b64 = attachment(args.push_mb)
    mbox, in_mbox = corpus_mbox(args.corpus, args.queued)
    stop = threading.Event()
    stats = {"accepted": 0, "refused": 0, "errors": 0, "kinds": {}, "mbox": None}
    lock = threading.Lock()

    def pusher(k):
        n = k
        while not stop.is_set():
            try:
                status, headers, _, _ = request(port, "POST", "/api/v1/imports", body=big_email(n, b64),
                                                headers={"Authorization": f"Bearer {token}",
                                                         "Content-Type": "message/rfc822"}, timeout=600)
            except OSError as e:
                # A reset or timeout: a real client backs off before trying again.
                with lock:
                    stats["errors"] += 1
                    stats["kinds"][type(e).__name__] = stats["kinds"].get(type(e).__name__, 0) + 1
                stop.wait(1.0)
                continue
            with lock:
                if status in (200, 201, 202):
                    stats["accepted"] += 1
                    n += args.pushes
                elif status in (429, 503):
                    stats["refused"] += 1
                else:
                    stats["errors"] += 1
                    stats["kinds"][f"HTTP {status}"] = stats["kinds"].get(f"HTTP {status}", 0) + 1
                    n += args.pushes
            if status in (429, 503):
                stop.wait(float(headers.get("retry-after", "1")))

    def queued():
        try:
            status, _, body, secs = request(port, "POST", "/api/v1/imports", body=mbox, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/mbox"}, timeout=3600)
            stats["mbox"] = (status, secs)
        except OSError as e:
            stats["mbox"] = (str(e), 0)

    # The samplers run in processes of their own: in this one the pushers' threads build and
    # send 48 MB bodies under the GIL, which would be counted as the server's latency.
    ctx = multiprocessing.get_context("fork")
    sampler_stop = ctx.Event()

    def sampler(fn, every, conn):
        out = []
        while not sampler_stop.is_set():
            t = time.perf_counter()
            try:
                out.append(fn())
            except OSError as e:
                out.append((str(e), float("nan")))
            sampler_stop.wait(max(0.0, every - (time.perf_counter() - t)))
        conn.send(out)
        conn.close()

    pipes, samplers = [], []
    for fn, every in [(taxii_once, 0.05), (ui_once, 1.0)]:
        ours, theirs = ctx.Pipe(duplex=False)
        pipes.append(ours)
        samplers.append(ctx.Process(target=sampler, args=(fn, every, theirs), daemon=True))
    threads = [threading.Thread(target=queued, daemon=True)]
    threads += [threading.Thread(target=pusher, args=(k,), daemon=True) for k in range(args.pushes)]
    log(f"{args.label}: load for {args.seconds} s")
    for p in samplers:
        p.start()
    # The pushers and the mbox client stand in for mail gateways on other machines, but here
    # they share the server's cores: building 48 MB bodies in Python takes a core a real sender
    # would not take from the server. `--nice-load` runs this process (not the samplers, forked
    # above) at the lowest priority; all the server's own work is measured either way.
    if args.nice_load:
        os.nice(19)
    started = time.time()
    for t in threads:
        t.start()
    peak_rss = 0
    while time.time() - started < args.seconds:
        time.sleep(1)
        peak_rss = max(peak_rss, rss_kib(server.proc.pid, "VmRSS"))
    stop.set()
    sampler_stop.set()
    loaded_taxii, loaded_ui = (pipe.recv() for pipe in pipes)
    for p in samplers:
        p.join(timeout=30)
    hwm = rss_kib(server.proc.pid, "VmHWM")
    status, _, body, _ = request(port, "GET", "/api/v1/imports?limit=1", headers={"Authorization": f"Bearer {token}"})
    latest = json.loads(body)["imports"][0]["id"] if status == 200 and json.loads(body)["imports"] else 0

    def summary(samples):
        ok = [s for st, s in samples if st == 200]
        bad = len(samples) - len(ok)
        return ok, bad

    rows = []
    for name, quiet, loaded in [("TAXII first page", quiet_taxii, loaded_taxii), ("UI dashboard", quiet_ui, loaded_ui)]:
        q, _ = summary(quiet)
        l, bad = summary(loaded)
        rows.append(f"| {args.label} | {args.backend} | {name} | {ms(percentile(q, 50))} / {ms(percentile(q, 99))} | "
                    f"{len(loaded)} | {ms(percentile(l, 50))} / **{ms(percentile(l, 99))}** / {ms(max(l) if l else float('nan'))} | "
                    f"{bad} |")
    extra = (f"| {args.label} | {args.backend} | load | {args.pushes} clients × {args.push_mb} MB pushes: "
             f"{stats['accepted']} stored, {stats['refused']} told to retry (429/503), {stats['errors']} errors{' (' + ', '.join(f'{k} {v}' for k, v in sorted(stats['kinds'].items())) + ')' if stats['kinds'] else ''}; "
             f"mbox of {in_mbox}: {stats['mbox'] or 'still running at the end'}; highest import id {latest} | "
             f"| RSS quiet {rss_quiet // 1024} MiB, peak {max(peak_rss, hwm) // 1024} MiB | |")
    rows.append(extra)
    with open(args.out, "a") as f:
        for r in rows:
            print(r)
            f.write(r + "\n")


if __name__ == "__main__":
    main()
