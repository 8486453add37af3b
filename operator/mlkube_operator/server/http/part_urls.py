"""Signed URLs for the parts of a multipart artifact upload, as S3's presigned ones are.

MLflow's client PUTs each part to the URL that ``mpu/create`` handed it, with only the headers
listed beside that URL: it sends no Authorization header there. So the caller is authorised
once, at ``mpu/create``, and each part URL carries an HMAC of what it may write (workspace,
artifact path, upload id, part number) and until when. Every replica holds the same key,
derived from the object-store secret, so a part may reach any of them; a server without one (the
memory backend) makes a key of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Long enough for a large upload over a slow link; a part URL is a write capability until then.
LIFETIME_SECONDS = 6 * 3600
_CONTEXT = b"mlkube multipart part url\0"


@dataclass(frozen=True)
class Part:
    """What one part URL may write: part ``number`` of ``upload_id``, for the artifact at
    ``path`` in ``workspace``."""

    workspace: str
    path: str
    upload_id: str
    number: int

    def message(self, expires: int) -> bytes:
        fields = (self.workspace, self.path.strip("/"), self.upload_id, str(self.number))
        return "\n".join((*fields, str(expires))).encode()


@dataclass(frozen=True)
class PartSigner:
    key: bytes = field(default_factory=lambda: os.urandom(32), repr=False)
    clock: Callable[[], float] = time.time

    @classmethod
    def from_secret(cls, secret: str) -> PartSigner:
        """The key every replica derives from the object-store secret they share."""
        return cls(hashlib.sha256(_CONTEXT + secret.encode()).digest())

    def query(self, part: Part) -> str:
        """The query string of a part's URL (``upload_id``, ``part_number``, its signature)."""
        expires = int(self.clock()) + LIFETIME_SECONDS
        return (
            f"upload_id={part.upload_id}&part_number={part.number}&expires={expires}"
            f"&signature={self._sign(part, expires)}"
        )

    def admits(self, part: Part, expires: int, signature: str) -> bool:
        """Whether ``signature`` was made here for exactly this part, and has not expired."""
        if expires < self.clock():
            return False
        return hmac.compare_digest(self._sign(part, expires), signature)

    def _sign(self, part: Part, expires: int) -> str:
        return hmac.new(self.key, part.message(expires), hashlib.sha256).hexdigest()
