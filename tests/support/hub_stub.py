"""A recording stand-in for the Hugging Face Hub's HTTP API on loopback (the few endpoints a commit uses).

It answers repo creation, README metadata validation (parsed with ``DatasetCard``), branch creation,
the preupload and LFS batch calls (``.parquet`` and ``.png`` go through LFS, everything else
inline), LFS uploads and the commit call, and records what arrived: ``requests`` (method, path,
parsed JSON/NDJSON body), ``lfs_objects`` (sha256 → bytes received) and ``commits`` (the NDJSON
lines of each commit). Anything else is answered 404 and recorded.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from huggingface_hub import DatasetCard

LFS_SUFFIXES = (".parquet", ".png")


class HubStub:
    """``with HubStub() as hub: HfApi(endpoint=hub.url, token=...)``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lfs_objects: dict[str, bytes] = {}
        self.commits: list[list[dict]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HubStub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self, method: str) -> list[str]:
        """Request paths seen with ``method``, in order."""
        return [p for m, p, _ in self.requests if m == method]

    def _answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "/api/repos/create":
            repo = "/".join(part for part in (body.get("organization"), body["name"]) if part)
            return 200, {"url": f"{self.url}/datasets/{repo}"}
        if method != "POST":
            return 404, {"error": f"the stub does not serve {method} {path}"}
        if path == "/api/validate-yaml":
            try:
                DatasetCard(body["content"])
            except ValueError as exc:
                return 400, {"errors": [{"message": str(exc)}]}
            return 200, {"errors": [], "warnings": []}
        if re.fullmatch(r"/api/datasets/[^/]+/[^/]+/branch/.+", path):
            return 200, {}
        if re.fullmatch(r"/api/datasets/[^/]+/[^/]+/preupload/.+", path):
            return 200, {"files": [{"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular",
                                    "shouldIgnore": False} for f in body["files"]]}
        if path.endswith(".git/info/lfs/objects/batch"):
            return 200, {"transfer": "basic", "objects": [
                {"oid": o["oid"], "size": o["size"], "actions": {"upload": {"href": f"{self.url}/lfs-upload/{o['oid']}"}}}
                for o in body["objects"]]}
        if commit := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/commit/.+", path):
            self.commits.append(body)
            return 200, {"commitUrl": f"{self.url}/datasets/{commit[1]}/commit/{'c' * 40}", "commitOid": "c" * 40, "pullRequestUrl": None}
        return 404, {"error": f"the stub does not serve {method} {path}"}

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _body(self) -> bytes:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                return gzip.decompress(data) if self.headers.get("Content-Encoding") == "gzip" else data

            def _reply(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw, path = self._body(), self.path.split("?", 1)[0]
                if self.headers.get("Content-Type", "").startswith("application/x-ndjson"):
                    body: Any = [json.loads(line) for line in raw.splitlines() if line.strip()]
                else:
                    body = json.loads(raw or b"{}")
                stub.requests.append(("POST", path, body))
                stub.headers.append(dict(self.headers))
                self._reply(*stub._answer("POST", path, body))

            def do_PUT(self) -> None:
                data, path = self._body(), self.path.split("?", 1)[0]
                stub.requests.append(("PUT", path, None))
                stub.headers.append(dict(self.headers))
                stub.lfs_objects[hashlib.sha256(data).hexdigest()] = data
                self._reply(200, {})

            def do_GET(self) -> None:
                stub.requests.append(("GET", self.path, None))
                stub.headers.append(dict(self.headers))
                self._reply(404, {"error": "not served"})

        return Handler
