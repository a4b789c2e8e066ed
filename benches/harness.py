"""What the server benchmarks share (`starvation/bench.py`, `soak/soak.py`): one `harpoon serve`
on a fresh database (SQLite file or PostgreSQL database, removed at the end), plain HTTP requests
timed with the standard library, percentiles, the server's RSS and open descriptors, a UI session.
Traffic goes to 127.0.0.1 only.
"""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone

TAXII = "application/taxii+json;version=2.1"


def log(*a):
    print(f"[{datetime.now().strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None, timeout=120):
    """(status, headers dict (lower-case names), body bytes, seconds)."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        # Repeated headers (several Set-Cookie) are joined with ", " as http.client does for
        # the others; a dict of the pairs would keep only the last one.
        joined = {}
        for k, v in resp.getheaders():
            k = k.lower()
            joined[k] = f"{joined[k]}, {v}" if k in joined else v
        return resp.status, joined, data, time.perf_counter() - start
    finally:
        conn.close()


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def ms(v):
    return "—" if v != v else f"{v * 1000:.1f}"


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def rss_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    def __init__(self, binary, backend, pg_base, workdir):
        self.dir = tempfile.mkdtemp(prefix="harpoon-starvation-", dir=workdir)
        self.drop = None
        if backend == "sqlite":
            url = f"sqlite://{self.dir}/harpoon.db"
        else:
            name = f"bench_starvation_{os.getpid()}"
            subprocess.run(["psql", f"{pg_base}/postgres", "-qtAc", f"DROP DATABASE IF EXISTS {name}"], check=True)
            subprocess.run(["psql", f"{pg_base}/postgres", "-qtAc", f"CREATE DATABASE {name}"], check=True)
            self.drop = lambda: subprocess.run(
                ["psql", f"{pg_base}/postgres", "-qtAc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)
            url = f"{pg_base}/{name}"
        self.password = "bench-" + uuid.uuid4().hex[:12]
        self.port = free_port()
        self.env = dict(os.environ, HARPOON_ADMIN_PASSWORD=self.password, HARPOON_DATA_DIR=self.dir,
                        HARPOON_DATABASE_URL=url, HARPOON_LISTEN=f"127.0.0.1:{self.port}", HARPOON_LOG="warn")
        self.binary = binary
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        self.proc = subprocess.Popen([binary, "serve"], env=self.env, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.time() + 60
        while True:
            try:
                if request(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the server did not start; see {self.dir}/serve.log")
            time.sleep(0.1)

    def cli(self, *args):
        return subprocess.run([self.binary, *args], env=self.env, check=True, capture_output=True,
                              text=True).stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.drop:
            self.drop()
        shutil.rmtree(self.dir, ignore_errors=True)


def indicators(n):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return [{
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": now, "modified": now, "valid_from": now, "pattern_type": "stix",
        "pattern": f"[domain-name:value = 'd{i}.bench-starvation.example']",
    } for i in range(n)]


def ui_session(port, password):
    status, headers, _, _ = request(port, "GET", "/ui/login")
    cookie = headers.get("set-cookie", "").split(";")[0]
    csrf = cookie.split("=", 1)[1] if "=" in cookie else ""
    body = f"username=admin&password={password}&csrf={csrf}"
    status, headers, _, _ = request(port, "POST", "/ui/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    session = headers.get("set-cookie", "")
    # Several Set-Cookie headers are joined by http.client; take the session's.
    for part in session.split(","):
        part = part.strip()
        if "harpoon_session=" in part:
            return part[part.index("harpoon_session="):].split(";")[0]
    raise SystemExit(f"UI login failed ({status}): {headers}")


