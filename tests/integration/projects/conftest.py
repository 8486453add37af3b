"""Projects against a tracking server's HTTP edge: a recording HTTP server on 127.0.0.1 (what the
real server answers is not the point here; what the clients send is), and the installed stock
``mlflow`` client in separate interpreters, as a Run's code runs it. No cluster is needed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Recorder:
    """Every request as (method, path, lower-cased headers); PUT bodies are kept by path and
    served back."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    stored: dict[str, bytes] = field(default_factory=dict)
    url: str = ""


EXPERIMENT = {
    "experiment": {
        "experiment_id": "1",
        "name": "e",
        "artifact_location": "mlflow-artifacts:/1",
        "lifecycle_stage": "active",
    }
}


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    record = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self) -> str:
            record.requests.append(
                (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
            )
            return self.path.split("?", 1)[0]

        def do_GET(self) -> None:
            path = self._record()
            if path in record.stored:
                self._answer(200, record.stored[path], "application/octet-stream")
            elif path == "/api/2.0/mlflow/experiments/get":
                self._answer(200, json.dumps(EXPERIMENT).encode())
            else:
                self._answer(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST"}')

        def do_PUT(self) -> None:
            path = self._record()
            length = int(self.headers.get("Content-Length") or 0)
            record.stored[path] = self.rfile.read(length)
            self._answer(200, b"{}")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
