"""Reading container logs in the CRI format the shim writes:
``<RFC3339Nano UTC> <stdout|stderr> <F|P> <text>``, one line per record, ``P`` for a partial line
(continued by the next record). A log is ``<n>.log`` (plus ``<n>.log.1`` after rotation), ``n``
being the container's restart count when it started."""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Record:
    timestamp: str
    stream: str
    partial: bool
    content: bytes  # without the record's own trailing newline

    @property
    def nanos(self) -> int:
        return to_nanos(self.timestamp)


def to_nanos(timestamp: str) -> int:
    """RFC 3339 (any fraction, UTC ``Z`` or an offset) -> nanoseconds since the epoch."""
    text = timestamp.strip()
    offset = 0
    if text.endswith("Z"):
        text = text[:-1]
    elif len(text) > 6 and text[-6] in "+-" and text[-3] == ":":
        sign = 1 if text[-6] == "+" else -1
        offset = sign * (int(text[-5:-3]) * 3600 + int(text[-2:]) * 60)
        text = text[:-6]
    whole, _, fraction = text.partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) - offset
    return seconds * 1_000_000_000 + int((fraction + "000000000")[:9])


def parse(raw: bytes) -> Record | None:
    parts = raw.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[2] not in (b"F", b"P"):
        return None
    content = parts[3] if len(parts) == 4 else b""
    return Record(parts[0].decode(), parts[1].decode(), parts[2] == b"P", content)


def files(log: Path) -> list[Path]:
    rotated = log.with_name(log.name + ".1")
    return [p for p in (rotated, log) if p.exists()]


def records(log: Path) -> list[Record]:
    out = []
    for path in files(log):
        with path.open("rb") as f:
            for raw in f:
                record = parse(raw)
                if record is not None:
                    out.append(record)
    return out


def render(record: Record, timestamps: bool) -> bytes:
    prefix = record.timestamp.encode() + b" " if timestamps else b""
    return prefix + record.content + (b"" if record.partial else b"\n")


def select(
    all_records: list[Record],
    *,
    tail_lines: int | None = None,
    since_nanos: int | None = None,
) -> list[Record]:
    """Apply sinceTime/sinceSeconds and tailLines (a line being a run of partials and its end)."""
    chosen = [r for r in all_records if since_nanos is None or r.nanos >= since_nanos]
    if tail_lines is None:
        return chosen
    if tail_lines <= 0:
        return []
    ends = [i for i, r in enumerate(chosen) if not r.partial]
    if len(ends) <= tail_lines:
        return chosen
    start = ends[-tail_lines - 1] + 1
    return chosen[start:]


def termination_fallback(log: Path, max_lines: int = 80, max_bytes: int = 2048) -> str:
    """The tail the kubelet uses as the message of a failed container without one."""
    text = b"".join(render(r, False) for r in select(records(log), tail_lines=max_lines))
    return text[-max_bytes:].decode(errors="replace")


def follow_chunks(path: Path, start: int, done: Iterator[bool]) -> Iterator[bytes]:
    """New raw bytes of ``path`` from offset ``start``, until ``done`` yields True and everything
    written so far has been read; yields b"" while waiting (the caller sleeps)."""
    offset = start
    inode = path.stat().st_ino if path.exists() else None
    pending = b""
    for finished in done:
        try:
            stat = path.stat()
        except FileNotFoundError:
            stat = None
        if stat is not None and inode is not None and stat.st_ino != inode:
            offset, inode = 0, stat.st_ino  # rotated: continue with the new file
        if stat is not None:
            inode = stat.st_ino
            if stat.st_size > offset:
                with path.open("rb") as f:
                    f.seek(offset)
                    data = f.read(stat.st_size - offset)
                offset += len(data)
                pending += data
                cut = pending.rfind(b"\n") + 1
                if cut:
                    yield pending[:cut]
                    pending = pending[cut:]
                continue
        if finished:
            return
        yield b""
