"""Every request the pages make, as the endpoint it calls and how it ended, and every console
error: what the UI tests compare between servers and check against the allowlist.

An endpoint is the method and the path with ids made generic (run ids, logged-model ids, artifact
paths); a GraphQL call is also named by its operation, since one path serves them all. Requests to
other origins, and the ``blob:`` and ``data:`` URLs the page makes itself for previews, are not
recorded. The bundle's own files (``/``, ``static-files/``) are recorded, so that one that fails
to load counts as a failed request, but they are not API endpoints (``succeeded``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response

RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")
LOGGED_MODEL_ID = re.compile(r"\bm-[0-9a-f]{32}\b")
# Artifact paths inside the path of mlflow-artifacts and logged-model file URLs.
ARTIFACT_PATH = re.compile(r"(/mlflow-artifacts/artifacts)/.*")
BUNDLE = re.compile(r"^/(static-files/.*)?$")
# A request the browser gave up because the page moved on (a navigation, a closed preview): the
# server never answered it, so it says nothing about the server.
ABORTED = "net::ERR_ABORTED"


def endpoint(method: str, url: str, post_data: str | None) -> str:
    """``GET /ajax-api/2.0/mlflow/runs/get`` style name of a request (query left out)."""
    path = urlsplit(url).path
    path = RUN_ID.sub("{run_id}", LOGGED_MODEL_ID.sub("{model_id}", path))
    path = ARTIFACT_PATH.sub(r"\1/{path}", path)
    name = f"{method} {path}"
    if path.endswith("/graphql") and post_data:
        try:
            operation = json.loads(post_data).get("operationName")
        except (ValueError, AttributeError):
            operation = None
        name += f" {operation}"
    return name


@dataclass(frozen=True)
class Call:
    """One API request: its endpoint, its URL, and the status (0: no answer, see ``failure``)."""

    page: str
    endpoint: str
    url: str
    status: int
    failure: str | None = None

    @property
    def failed(self) -> bool:
        return self.status >= 400 or (self.status == 0 and self.failure != ABORTED)


@dataclass(frozen=True)
class ConsoleError:
    page: str
    text: str
    url: str  # where the error came from: for a failed load, the resource's URL


@dataclass
class Network:
    """Records a browser context's requests to the server and its console errors, by the page
    being visited."""

    origin: str
    page: str = "start"
    calls: list[Call] = field(default_factory=list)
    console: list[ConsoleError] = field(default_factory=list)
    pending: set[Request] = field(default_factory=set)

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self.started)
        context.on("requestfinished", self.finished)
        context.on("requestfailed", self.failed)
        context.on("console", self.logged)
        context.on("weberror", lambda error: self.add_console(str(error.error), ""))

    def ours(self, request: Request) -> bool:
        url = urlsplit(request.url)
        return f"{url.scheme}://{url.netloc}" == self.origin

    def started(self, request: Request) -> None:
        # Only API calls are waited for: the page's request for the bundle's telemetry
        # SharedWorker script stays open until the page goes away.
        if self.ours(request) and not BUNDLE.match(urlsplit(request.url).path):
            self.pending.add(request)

    def finished(self, request: Request) -> None:
        response: Response | None = request.response()
        self.record(request, response.status if response else 0, None)

    def failed(self, request: Request) -> None:
        self.record(request, 0, request.failure)

    def record(self, request: Request, status: int, failure: str | None) -> None:
        if not self.ours(request):
            return
        self.pending.discard(request)
        name = endpoint(request.method, request.url, request.post_data)
        self.calls.append(Call(self.page, name, request.url, status, failure))

    def logged(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.add_console(message.text, message.location.get("url", ""))

    def add_console(self, text: str, url: str) -> None:
        self.console.append(ConsoleError(self.page, text, url))

    def quiet(self, page: Page, for_seconds: float = 0.5, timeout: float = 10.0) -> None:
        """Returns once no API call has been in flight for ``for_seconds`` (or after
        ``timeout``: a page that polls is never quiet, and that is not an error here). Waits
        through ``page``: the sync API delivers events only while one of its calls runs."""
        deadline = time.monotonic() + timeout
        calm_since = time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            if self.pending:
                calm_since = now
            elif now - calm_since >= for_seconds:
                return
            page.wait_for_timeout(50)

    def succeeded(self) -> set[str]:
        """The API endpoints that answered (the bundle's files left out)."""
        return {
            call.endpoint
            for call in self.calls
            if 0 < call.status < 400 and not BUNDLE.match(urlsplit(call.url).path)
        }
