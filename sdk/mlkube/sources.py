"""Where a model version may be registered from: a strict reading of ``s3://`` URIs and the one
rule that the tracking server (when a client registers) and the operator (when it copies) both
apply, so that they agree (issue 13).

The operator copies a version's files into ``<namespace>/models/<model>/<version>/`` with the
platform's object-store key, which reads every namespace. A source must therefore lie

- in the version's own namespace prefix of mlkube's bucket (``s3://<bucket>/<namespace>/``), or
- under a prefix an admin allowlisted (``MLKUBE_REGISTRY_SOURCE_ALLOWLIST``, chart value
  ``operator.registrySourceAllowlist``: comma-separated ``s3://<bucket>/<prefix>/`` entries).

A source is read exactly as written: no case folding, no ``%``-unescaping, no port, no user, no
``.``, ``..`` or empty segments. A spelling S3 or a proxy might read as another bucket or key
(``s3://MLKUBE/...``, ``s3://mlkube:9000/...``, ``s3://x@mlkube/...``, ``%2e%2e``) is refused
rather than normalised, so the check and the copy can never disagree about what is read. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mlkube import layout
from mlkube.storage import S3Location

SPELLING_RULE = "a registry source is a plain s3://<bucket>/<key> URI"
PREFIX_RULE = "a registry source lies in its namespace's prefix or an allowlisted prefix"
ALLOWLIST_SETTING = "operator.registrySourceAllowlist (MLKUBE_REGISTRY_SOURCE_ALLOWLIST)"

# S3's bucket-name rules: 3-63 lower-case letters, digits, '.' and '-', starting and ending with
# a letter or digit, no '..', not an IP address, and none of the reserved prefixes and suffixes.
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_ADDRESS = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
RESERVED_PREFIXES = ("xn--", "sthree-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3")
FORBIDDEN_KEY_CHARACTERS = {"%": "%-escapes", "?": "'?'", "#": "'#'", "\\": "backslashes"}


class SourceRefused(layout.LayoutError):
    """A source the rule refuses; the message names the rule and what to do instead."""


def bucket_problem(bucket: str) -> str | None:
    """Why ``bucket`` is not a bucket name S3 allows, or None."""
    if "@" in bucket:
        return "user information ('...@') is not allowed before the bucket"
    if ":" in bucket:
        return "a port is not allowed after the bucket (the endpoint is the platform's)"
    if (
        not BUCKET.fullmatch(bucket)
        or ".." in bucket
        or IP_ADDRESS.fullmatch(bucket)
        or bucket.startswith(RESERVED_PREFIXES)
        or bucket.endswith(RESERVED_SUFFIXES)
    ):
        return (
            f"bucket {bucket[:80]!r} is not an S3 bucket name (3-63 lower-case letters, digits, "
            "'.' and '-', starting and ending with a letter or digit)"
        )
    return None


def key_problem(key: str) -> str | None:
    """Why ``key`` (without its one optional trailing '/') is not a plain object key, or None."""
    for character, name in FORBIDDEN_KEY_CHARACTERS.items():
        if character in key:
            return f"{name} are not allowed in the key"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return "control characters are not allowed in the key"
    if len(key.encode()) > layout.MAX_KEY_BYTES:
        return f"the key is longer than {layout.MAX_KEY_BYTES} bytes"
    segments = key.split("/")
    if any(s == "" for s in segments):
        return "empty segments ('//', or a '/' right after the bucket) are not allowed"
    if any(s in {".", ".."} for s in segments):
        return "'.' and '..' segments are not allowed"
    return None


def _refused_spelling(source: str, why: str) -> SourceRefused:
    return SourceRefused(
        f"source {source[:300]!r} breaks the rule '{SPELLING_RULE}': {why}; write the bucket "
        "as S3 names it (lower-case, no port, no user) and the key without %-escapes, '.', "
        "'..' or empty segments"
    )


def parse_s3_uri(source: str) -> S3Location:
    """``s3://<bucket>/<key>`` read strictly (one trailing '/' is dropped); SourceRefused
    naming what is wrong otherwise."""
    if not source.startswith("s3://"):
        raise _refused_spelling(source, "it does not start with s3:// (lower-case)")
    bucket, slash, key = source.removeprefix("s3://").partition("/")
    if why := bucket_problem(bucket):
        raise _refused_spelling(source, why)
    key = key.removesuffix("/")
    if not slash or not key:
        raise _refused_spelling(source, "it names a bucket but no key")
    if why := key_problem(key):
        raise _refused_spelling(source, why)
    return S3Location(bucket, key)


@dataclass(frozen=True)
class S3Prefix:
    """Every object whose key starts with ``key`` in ``bucket``; ``key`` is "" (the whole
    bucket) or ends with '/', so ``team-a/`` never holds ``team-ab/...``."""

    bucket: str
    key: str

    def holds(self, location: S3Location) -> bool:
        return location.bucket == self.bucket and f"{location.key}/".startswith(self.key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_allowlist(entries: Iterable[str]) -> tuple[S3Prefix, ...]:
    """Allowlist entries (``s3://<bucket>/`` or ``s3://<bucket>/<prefix>/``; a prefix without
    its trailing '/' is read as the directory), or a ValueError naming the bad entry."""
    prefixes: list[S3Prefix] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        if entry.startswith("s3://") and "/" not in entry.removeprefix("s3://").rstrip("/"):
            bucket, key = entry.removeprefix("s3://").rstrip("/"), ""
            why = bucket_problem(bucket)
        else:
            try:
                location = parse_s3_uri(entry)
            except SourceRefused as err:
                raise ValueError(f"{ALLOWLIST_SETTING}: entry {entry!r}: {err}") from None
            bucket, key, why = location.bucket, f"{location.key}/", None
        if why:
            raise ValueError(f"{ALLOWLIST_SETTING}: entry {entry!r}: {why}")
        prefixes.append(S3Prefix(bucket, key))
    return tuple(prefixes)


@dataclass(frozen=True)
class SourceRule:
    """The rule: ``bucket`` is mlkube's own bucket; ``allowlist`` the admin's extra prefixes."""

    bucket: str
    allowlist: tuple[S3Prefix, ...] = ()

    @classmethod
    def of(cls, bucket: str, allowlist: Iterable[str]) -> SourceRule:
        """The rule from the settings; a ValueError names an entry that cannot be one (the whole
        of mlkube's own bucket would undo the rule)."""
        prefixes = parse_allowlist(allowlist)
        if S3Prefix(bucket, "") in prefixes:
            raise ValueError(
                f"{ALLOWLIST_SETTING}: s3://{bucket}/ is mlkube's own bucket, which holds every "
                f"namespace's data; allowlist prefixes of it (s3://{bucket}/<prefix>/) instead"
            )
        return cls(bucket, prefixes)

    def namespace_prefix(self, namespace: str) -> S3Prefix:
        if not layout.NAMESPACE.fullmatch(namespace):
            raise layout.LayoutError(f"invalid namespace {namespace[:80]!r}")
        return S3Prefix(self.bucket, f"{namespace}/")

    def check(self, namespace: str, source: str) -> S3Location:
        """Where a version of ``namespace`` with this ``s3://`` source reads its files from;
        SourceRefused naming the rule and the fix when it may not."""
        location = parse_s3_uri(source)
        self.admit(namespace, location)
        return location

    def admit(self, namespace: str, location: S3Location) -> None:
        """Nothing when a version of ``namespace`` may be copied from ``location`` (however its
        source was written); SourceRefused naming the rule and the fix otherwise."""
        own = self.namespace_prefix(namespace)
        if own.holds(location) or any(p.holds(location) for p in self.allowlist):
            return
        allowed = ", ".join(str(p) for p in self.allowlist) or "none"
        if location.bucket == self.bucket:
            where = f"is outside namespace {namespace}'s prefix {own}"
            ask = f"its prefix (s3://{location.bucket}/{location.key.split('/')[0]}/)"
        else:
            where = f"is in bucket {location.bucket}, outside namespace {namespace}'s prefix {own}"
            ask = f"a prefix of bucket {location.bucket}"
        raise SourceRefused(
            f"source {location} {where} and no allowlisted prefix holds it (rule: "
            f"'{PREFIX_RULE}'); register from a run or logged model in {namespace} "
            f"(runs:/<runId>/<path>, models:/<modelId>) or from under {own}, or ask an admin "
            f"to add {ask} to {ALLOWLIST_SETTING} (allowlisted now: {allowed})"
        )
