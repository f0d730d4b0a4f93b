"""``mmcot view --serve``: the report on loopback, the sampled problems read a page at a time.

The problems are the pipeline's row sample under ``_meta/sample/`` (as in ``report.html``; data
shards are never read). At start only the light index columns are read (ids, bands, outcomes,
reasons, question text); a page request reads the full rows of its problems (images, chains) with a
pyarrow filter on the problem key. Standard-library HTTP server: one page, two JSON endpoints,
nothing else.
"""
from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from data_cards.card import load_manifest
from data_cards.meta import read_figures
from data_cards.report.problems import FILTERS, matches, problem_details, problem_index, to_json
from data_cards.report.render import PAGE_SIZE, render_html, sample_shards, summary
from schemas.figures import SAMPLE_FILE, SampleFigures

MAX_PAGE = 500
log = logging.getLogger(__name__)


class ReportServer:
    """The report of ``out_dir`` served on ``127.0.0.1:port`` (0: a free port)."""

    def __init__(self, out_dir: str, port: int = 0):
        manifest = load_manifest(out_dir)
        self.shards = sample_shards(out_dir)
        self.index = problem_index(self.shards)
        self.summary = summary(out_dir, manifest, read_figures(out_dir, SAMPLE_FILE, SampleFigures), self.index)
        self.page = render_html({"mode": "serve", "summary": self.summary, "problems": None, "page_size": PAGE_SIZE})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where the report is served."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def problems_page(self, query: dict[str, str]) -> dict:
        """``{total, offset, problems}``: the filtered problems from ``offset``, at most ``limit`` of them."""
        chosen = [e for e in self.index if matches(e, query)]
        offset = max(0, int(query.get("offset") or 0))
        limit = min(MAX_PAGE, max(1, int(query.get("limit") or PAGE_SIZE)))
        page = chosen[offset:offset + limit]
        return {"total": len(chosen), "offset": offset,
                "problems": problem_details(self.shards, page, [e["id"] for e in page]) if page else []}

    def serve_forever(self) -> None:
        """Serve from this thread until interrupted (Ctrl-C), then close the socket."""
        try:
            self.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.httpd.server_close()

    def start(self) -> ReportServer:
        """Serve from a background thread (returns at once)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ReportServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _handler(server: ReportServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: HTTPStatus, body: str, content_type: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items() if k in (*FILTERS, "q", "offset", "limit")}
            if url.path in ("/", "/report.html"):
                self._send(HTTPStatus.OK, server.page, "text/html")
            elif url.path == "/api/summary":
                self._send(HTTPStatus.OK, to_json(server.summary), "application/json")
            elif url.path == "/api/problems":
                try:
                    self._send(HTTPStatus.OK, to_json(server.problems_page(query)), "application/json")
                except ValueError as exc:
                    self._send(HTTPStatus.BAD_REQUEST, json.dumps({"error": str(exc)}), "application/json")
            else:
                self._send(HTTPStatus.NOT_FOUND, json.dumps({"error": f"no such page: {url.path}"}), "application/json")

        def log_message(self, fmt: str, *args) -> None:
            log.debug("%s " + fmt, self.address_string(), *args)

    return Handler
