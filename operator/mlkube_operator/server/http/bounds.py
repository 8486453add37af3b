"""How much work one request may cause: body sizes, read deadlines, requests in flight.

One value, filled from the settings at startup (settings.py) and read by the body reader
(bodies.py), the in-flight limit (busy.py) and uvicorn's protocol (head_deadline.py). The
defaults fit MLflow's clients: JSON requests are small (log-batch is at most 1 MiB), artifact
uploads are whole files unless the client splits them into multipart parts.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class BodyLimit:
    """What one kind of request body may be: its size, and how long it may take to arrive."""

    kind: str  # named in the refusal, e.g. "a JSON request"
    max_bytes: int
    setting: str  # the setting that raises max_bytes, named in the refusal
    idle_seconds: float  # longest wait for the next piece
    total_seconds: float | None  # longest wait for the whole body; None: only the idle bound


@dataclass(frozen=True)
class Bounds:
    max_json_bytes: int = 16 * MiB
    # A single artifact PUT or multipart part; S3's own limit for one PUT is 5 GiB.
    max_upload_bytes: int = 5 * 1024 * MiB
    head_seconds: float = 10.0  # the request line and headers, from connection or last answer
    max_head_bytes: int = 64 * 1024
    body_idle_seconds: float = 30.0
    json_body_seconds: float = 60.0
    max_in_flight: int = 64  # requests being served at once; more get 503 with Retry-After
    retry_after_seconds: int = 1

    def json_body(self) -> BodyLimit:
        return BodyLimit(
            "a JSON request",
            self.max_json_bytes,
            "--max-json-bytes (MLKUBE_MAX_JSON_BYTES)",
            self.body_idle_seconds,
            self.json_body_seconds,
        )

    def upload(self) -> BodyLimit:
        # No whole-body deadline: a large file on a slow link is legitimate; the idle bound and
        # the in-flight limit keep a stalled upload from holding the server.
        return BodyLimit(
            "an artifact upload or multipart part",
            self.max_upload_bytes,
            "--max-upload-bytes (MLKUBE_MAX_UPLOAD_BYTES), or upload in parts "
            "(MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true)",
            self.body_idle_seconds,
            None,
        )
