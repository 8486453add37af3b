"""Which requests the forwarder passes on with the user's token, and which it refuses.

The forwarder adds a credential to what it passes on, so it must serve one browser of this user
and nothing else. What stands in the way of each other party:

- **other local users and programs** connect to 127.0.0.1 as easily as the browser does. They lack
  the session cookie, which only the browser holding the one-time sign-in link gets: a random
  secret, printed once and opened once, exchanged for a cookie of another random value (so the
  link in the browser's history opens nothing). Connections from sockets of other users (but root)
  are also closed before a byte is read, where the system says whose they are (peers.py): a browser
  also sends the cookie to other ports of 127.0.0.1, since cookies are not kept apart by port;
- **other web sites in the browser** would have it send requests to 127.0.0.1. The cookie is
  ``SameSite=Strict``, so a request another site starts carries none; a page on another port of
  127.0.0.1 is the same site, though, and gets the cookie sent: a request whose ``Sec-Fetch-Site``
  says another origin started it, or whose ``Origin`` is not ours, is refused;
- **DNS rebinding** (a site's own name made to resolve to 127.0.0.1, so the browser calls it
  same-origin) is refused by the Host header, which must be 127.0.0.1:PORT or localhost:PORT.

A refused request is answered here (403) and never reaches the tracking server.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import urllib.parse
from dataclasses import dataclass

SESSION_PARAM = "mlkube-session"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
# Sec-Fetch-Site values of requests this origin's own pages make, or the user does (typing the
# URL, a bookmark, the browser opened by `mlkube ui`).
OWN_FETCH_SITES = ("same-origin", "none")
HELP = "open the sign-in link `mlkube ui` printed (once), or run `mlkube ui` again for a new one"


@dataclass(frozen=True)
class Request:
    """What the gate reads of a request: the raw header values (None when absent)."""

    target: str
    hosts: tuple[str, ...]
    cookie: str = ""
    origin: str | None = None
    fetch_site: str | None = None


@dataclass(frozen=True)
class Forward:
    """Pass the request on, with the user's token."""


@dataclass(frozen=True)
class SignIn:
    """Answer the sign-in page; ``set_cookie`` is the session cookie to set (None when the browser
    has it already)."""

    set_cookie: str | None


@dataclass(frozen=True)
class Refuse:
    status: int
    message: str


Verdict = Forward | SignIn | Refuse


class Gate:
    """One session of the forwarder listening on ``port``."""

    def __init__(self, port: int, *, secret: str | None = None, cookie: str | None = None) -> None:
        self.port = port
        self.secret = secret or secrets.token_urlsafe(32)
        self.cookie = cookie or secrets.token_urlsafe(32)
        self._used = False
        self._lock = threading.Lock()

    @property
    def cookie_name(self) -> str:
        """Per port: cookies are shared by every port of a host, and two sessions at once (two
        clusters) must not overwrite each other's."""
        return f"mlkube-ui-{self.port}"

    @property
    def sign_in_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?{SESSION_PARAM}={self.secret}"

    def set_cookie(self) -> str:
        return f"{self.cookie_name}={self.cookie}; Path=/; HttpOnly; SameSite=Strict"

    def judge(self, request: Request) -> Verdict:
        if not request.target.startswith("/"):
            return Refuse(400, "only origin-form request targets (/path?query) are served")
        allowed = {f"{host}:{self.port}" for host in LOOPBACK_HOSTS}
        if len(request.hosts) != 1 or request.hosts[0].lower() not in allowed:
            return Refuse(403, f"Host must be 127.0.0.1:{self.port} or localhost:{self.port}")
        signed_in = self._has_cookie(request.cookie)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.target).query)
        if SESSION_PARAM in query:
            if self._take(query[SESSION_PARAM]):
                return SignIn(self.set_cookie())
            if signed_in:
                return SignIn(None)
            return Refuse(
                403, f"this sign-in link was used already or is not this session's; {HELP}"
            )
        if not signed_in:
            return Refuse(403, f"not signed in; {HELP}")
        if request.fetch_site is not None and request.fetch_site not in OWN_FETCH_SITES:
            return Refuse(403, "requests started by other sites or origins are refused")
        if request.origin is not None and request.origin != f"http://{request.hosts[0]}":
            return Refuse(403, f"requests from origin {request.origin[:100]} are refused")
        return Forward()

    def _take(self, values: list[str]) -> bool:
        """Whether ``values`` is the sign-in secret, unused until now (it is used by this)."""
        with self._lock:
            ok = len(values) == 1 and hmac.compare_digest(values[0], self.secret)
            if ok and not self._used:
                self._used = True
                return True
            return False

    def _has_cookie(self, header: str) -> bool:
        """Whether the Cookie header holds our session cookie. Parsed by hand: the browser also
        sends other programs' cookies for 127.0.0.1, which need not be well-formed."""
        for pair in header.split(";"):
            name, _, value = pair.strip().partition("=")
            if name == self.cookie_name and hmac.compare_digest(value, self.cookie):
                return True
        return False
