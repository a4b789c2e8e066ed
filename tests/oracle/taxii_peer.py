"""Runs a reference TAXII 2.1 server for the subscription tests (tests/api/subscriptions.rs).

    python taxii_peer.py medallion|opentaxii DIR PORT USER PASSWORD [PAGE_SIZE]

Sets the server up in DIR the first time (a collection titled "Shared", an account USER with
PASSWORD), prints one JSON line {"discovery", "api_root", "collection"} and then runs the server
in the foreground on 127.0.0.1:PORT until it is killed. Started again with the same DIR it keeps
what it had: OpenTAXII its SQLite database; medallion its memory backend reloaded from the file
it is given (what was POSTed since start is lost, as medallion ships it).

How both are run is what benches/taxii/bench.py learned: medallion's memory backend and Flask's
threaded server; OpenTAXII 0.9.3 with SQLite persistence and Werkzeug's threaded server, its
UUID-encoding and debugger quirks patched the same way.
"""

import json
import os
import subprocess
import sys

TAXII = "application/taxii+json;version=2.1"


def medallion(d, port, user, password, page_size):
    cid = "472c94ae-3113-4e3e-a4dd-a9f4ac7471d4"
    base = f"http://127.0.0.1:{port}"
    data_file = os.path.join(d, "data.json")
    if not os.path.exists(data_file):
        data = {
            "/discovery": {"title": "peer", "default": f"{base}/api1/", "api_roots": [f"{base}/api1/"]},
            "api1": {
                "information": {"title": "peer", "versions": [TAXII], "max_content_length": 10485760},
                "status": [],
                "collections": [{"id": cid, "title": "Shared", "can_read": True, "can_write": True,
                                 "media_types": ["application/stix+json;version=2.1"],
                                 "objects": [], "manifest": []}],
            },
        }
        with open(data_file, "w") as f:
            json.dump(data, f)
    config = {
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": data_file},
        "users": {user: password},
        "taxii": {"max_page_size": page_size, "max_content_length": 10485760},
    }
    cfg = os.path.join(d, "config.json")
    with open(cfg, "w") as f:
        json.dump(config, f)
    print(json.dumps({"discovery": f"{base}/taxii2/", "api_root": f"{base}/api1/", "collection": cid}),
          flush=True)
    medallion_bin = os.path.join(os.path.dirname(sys.executable), "medallion")
    os.execv(medallion_bin, [medallion_bin, "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "WARN", cfg])


def opentaxii(d, port, user, password, page_size):
    del page_size  # OpenTAXII pages by the client's limit
    cfg = os.path.join(d, "config.yml")
    with open(cfg, "w") as f:
        f.write(f"""---
domain: "127.0.0.1:{port}"
support_basic_auth: yes
return_server_error_details: yes
auth_api:
  class: opentaxii.auth.sqldb.SQLDatabaseAPI
  parameters:
    db_connection: sqlite:///{d}/auth.db
    create_tables: yes
    secret: 0f5a7e3c9b2d4e6f8a1c3b5d7e9f0a2c
    token_ttl_secs: 86400
taxii1:
taxii2:
  persistence_api:
    class: opentaxii.persistence.sqldb.Taxii2SQLDatabaseAPI
    parameters:
      db_connection: sqlite:///{d}/data2.db
      create_tables: yes
  max_content_length: 10485760
  title: peer
  public_discovery: true
  allow_custom_properties: true
logging:
  opentaxii: warning
  root: warning
""")
    env = dict(os.environ, OPENTAXII_CONFIG=cfg, PYTHONWARNINGS="ignore")
    ids_file = os.path.join(d, "ids.json")
    if not os.path.exists(ids_file):
        setup = f"""
from opentaxii.cli import app
api = app.taxii_server.servers.taxii2.persistence.api
with app.app_context():
    root = api.add_api_root(title="peer", default=True)
    coll = api.add_collection(api_root_id=str(root.id), title="Shared", alias="shared")
    # opentaxii-create-account ignores its --admin flag in 0.9.3: create the account here.
    app.taxii_server.auth.api.create_account(username={user!r}, password={password!r}, is_admin=True)
    print(root.id, coll.id)
"""
        out = subprocess.run([sys.executable, "-c", setup], env=env, check=True, capture_output=True,
                             text=True)
        root_id, coll_id = out.stdout.split()[-2:]
        with open(ids_file, "w") as f:
            json.dump({"root": root_id, "collection": coll_id}, f)
    with open(ids_file) as f:
        ids = json.load(f)
    base = f"http://127.0.0.1:{port}"
    print(json.dumps({"discovery": f"{base}/taxii2/", "api_root": f"{base}/taxii2/{ids['root']}/",
                      "collection": ids["collection"]}), flush=True)
    # 0.9.3 json.dumps its responses with the stdlib encoder, which cannot encode the UUID ids
    # its own models return: give it default=str. Its CLI app has the Werkzeug debugger on.
    serve = ("import json, opentaxii.taxii2.http as h\n"
             "class J:\n    dumps = staticmethod(lambda d, **k: json.dumps(d, default=str, **k))\n"
             "h.json = J\n"
             "from opentaxii.cli import app\napp.debug = False\n"
             f"app.run(host='127.0.0.1', port={port}, threaded=True)\n")
    os.execve(sys.executable, [sys.executable, "-c", serve], env)


def main():
    kind, d, port, user, password = sys.argv[1:6]
    page_size = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
    os.makedirs(d, exist_ok=True)
    {"medallion": medallion, "opentaxii": opentaxii}[kind](d, int(port), user, password, page_size)


if __name__ == "__main__":
    main()
