"""Drives a running Harpoon with the OASIS taxii2-client (2.3.0, v21 API) and nothing else.

stdin:  {"url": "http://127.0.0.1:PORT",            the server (no path)
         "auth": {"mode": "basic", "user": u, "password": p}
               | {"mode": "token", "token": t}         Authorization: Token (taxii2client.common.TokenAuth)
               | {"mode": "bearer", "token": t}        Authorization: Bearer (a requests AuthBase)
               | {"mode": "basic_token", "user": u, "token": t}   the token as the Basic password
               | {"mode": "none"},
         "steps": [ {"scenario": NAME, ...arguments}, ... ]}
stdout: {"results": [ {...one result per step...} ]}

Every step runs with the step's own "auth" if it has one, else the top-level one. A client error
(requests.HTTPError, a TAXII client exception) is reported as {"error": {"type", "status", "message"}}
instead of a result, so the Rust side asserts on what the client saw.
"""
import json
import sys

import requests
from taxii2client.common import TokenAuth
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages


class BearerAuth(requests.auth.AuthBase):
    """taxii2-client has TokenAuth ("Token x"); Bearer goes through the same `auth=` hook."""

    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = "Bearer {}".format(self.token)
        return r


def credentials(auth):
    """Keyword arguments for a taxii2-client endpoint constructor."""
    mode = auth.get("mode", "none")
    if mode == "basic":
        return {"user": auth["user"], "password": auth["password"]}
    if mode == "basic_token":
        return {"user": auth["user"], "password": auth["token"]}
    if mode == "token":
        return {"auth": TokenAuth(auth["token"])}
    if mode == "bearer":
        return {"auth": BearerAuth(auth["token"])}
    return {}


def api_root_url(base):
    return base.rstrip("/") + "/taxii2/root/"


def collection(step, base, auth):
    return Collection(api_root_url(base) + "collections/" + step["collection"] + "/", **credentials(auth))


def status_dict(status):
    return {
        "id": status.id,
        "status": status.status,
        "total_count": status.total_count,
        "success_count": status.success_count,
        "failure_count": status.failure_count,
        "pending_count": status.pending_count,
        "successes": status.successes,
        "failures": status.failures,
        "pendings": status.pendings,
    }


def discovery(step, base, auth):
    server = Server(base.rstrip("/") + "/taxii2/", **credentials(auth))
    return {
        "title": server.title,
        "description": server.description,
        "default": server.default.url if server.default else None,
        "api_roots": [root.url for root in server.api_roots],
    }


def api_root(step, base, auth):
    root = ApiRoot(api_root_url(base), **credentials(auth))
    return {
        "title": root.title,
        "versions": root.versions,
        "max_content_length": root.max_content_length,
    }


def collections(step, base, auth):
    root = ApiRoot(api_root_url(base), **credentials(auth))
    return {
        "collections": [
            {"id": c.id, "title": c.title, "alias": c.alias, "can_read": c.can_read, "can_write": c.can_write}
            for c in root.collections
        ]
    }


def add_objects(step, base, auth):
    coll = collection(step, base, auth)
    status = coll.add_objects(step["envelope"], wait_for_completion=True, poll_interval=1, timeout=30)
    return status_dict(status)


def add_many(step, base, auth):
    """Several POSTs of one envelope each; returns every status."""
    coll = collection(step, base, auth)
    return {
        "statuses": [
            status_dict(coll.add_objects(envelope, wait_for_completion=True, poll_interval=1, timeout=60))
            for envelope in step["envelopes"]
        ]
    }


def sweep(step, base, auth):
    """as_pages through objects and through the manifest."""
    coll = collection(step, base, auth)
    per_request = step.get("per_request", 0)
    filters = step.get("filters", {})
    keep = set(step.get("keep_pages", []))  # indices of the object pages returned whole
    pages = []
    kept = []
    for envelope in as_pages(coll.get_objects, per_request=per_request, **filters):
        objects = envelope.get("objects", [])
        pages.append({
            "more": envelope.get("more", False),
            "has_next": bool(envelope.get("next")),
            "ids": [o["id"] for o in objects],
            "versions": [o.get("modified", o.get("created", "")) for o in objects],
        })
        if len(pages) - 1 in keep:
            kept.append(envelope)
    manifest = []
    manifest_pages = 0
    for envelope in as_pages(coll.get_manifest, per_request=per_request, **filters):
        manifest_pages += 1
        manifest.extend(envelope.get("objects", []))
    return {"pages": pages, "kept": kept, "manifest": manifest, "manifest_pages": manifest_pages}


def pages(step, base, auth):
    """as_pages over one endpoint (objects, manifest, object, versions); every envelope whole."""
    coll = collection(step, base, auth)
    func = {
        "objects": coll.get_objects,
        "manifest": coll.get_manifest,
        "object": coll.get_object,
        "versions": coll.object_versions,
    }[step["endpoint"]]
    args = [step["object"]] if "object" in step else []
    return {"envelopes": list(as_pages(func, step.get("per_request", 0), *args, **step.get("filters", {})))}


def manifest(step, base, auth):
    coll = collection(step, base, auth)
    return coll.get_manifest(**step.get("filters", {}))


def versions(step, base, auth):
    coll = collection(step, base, auth)
    return coll.object_versions(step["object"], **step.get("filters", {}))


def get_object(step, base, auth):
    coll = collection(step, base, auth)
    return coll.get_object(step["object"], **step.get("filters", {}))


def delete_object(step, base, auth):
    coll = collection(step, base, auth)
    response = coll.delete_object(step["object"], **step.get("filters", {}))
    return {"response": response if isinstance(response, dict) else None}


def status(step, base, auth):
    root = ApiRoot(api_root_url(base), **credentials(auth))
    return status_dict(root.get_status(step["status_id"]))


SCENARIOS = {
    "status": status,
    "discovery": discovery,
    "api_root": api_root,
    "collections": collections,
    "add_objects": add_objects,
    "add_many": add_many,
    "sweep": sweep,
    "pages": pages,
    "manifest": manifest,
    "versions": versions,
    "get_object": get_object,
    "delete_object": delete_object,
}


def run_step(step, base, auth):
    try:
        return SCENARIOS[step["scenario"]](step, base, step.get("auth", auth))
    except requests.HTTPError as exc:
        response = exc.response
        body = None
        if response is not None:
            try:
                body = response.json()
            except ValueError:
                body = response.text
        return {
            "error": {
                "type": type(exc).__name__,
                "status": response.status_code if response is not None else None,
                "www_authenticate": response.headers.get("WWW-Authenticate") if response is not None else None,
                "body": body,
                "message": str(exc),
            }
        }
    except Exception as exc:  # a TAXII client exception (validation of what the server sent, ...)
        return {"error": {"type": type(exc).__name__, "status": None, "message": str(exc)}}


def main():
    request = json.load(sys.stdin)
    base = request["url"]
    auth = request.get("auth", {"mode": "none"})
    json.dump({"results": [run_step(step, base, auth) for step in request["steps"]]}, sys.stdout)


if __name__ == "__main__":
    main()
