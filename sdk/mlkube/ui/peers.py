"""Whose is the other end of a loopback connection (Linux: /proc/net/tcp).

A browser sends its cookies for 127.0.0.1 to every port there, so another user's server on another
port could be handed our session cookie; the forwarder therefore also closes connections whose
socket belongs to another user. Root is let in: it can read the user's kubeconfig anyway, and
some relays (WSL's, from a Windows browser) run as root. Where the system does not say (no
/proc/net/tcp, or no such socket in it), the session cookie alone decides.
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

TABLE = Path("/proc/net/tcp")
ROOT = 0


def _address(host: str, port: int) -> str:
    """An IPv4 address as /proc/net/tcp prints it: the 32-bit word in the host's byte order, then
    the port, both in hex."""
    (word,) = struct.unpack("=I", socket.inet_aton(host))
    return f"{word:08X}:{port:04X}"


def owner(table: str, local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """The uid owning the socket bound to ``local`` and connected to ``remote``, per ``table``
    (the text of /proc/net/tcp); None when it is not there."""
    want = (_address(*local), _address(*remote))
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 7 and (fields[1], fields[2]) == want:
            return int(fields[7])
    return None


def admitted(peer: tuple[str, int], server: tuple[str, int], table: Path = TABLE) -> bool:
    """False only when the socket at ``peer`` (connected to ``server``) is another user's."""
    try:
        text = table.read_text()
    except OSError:
        return True
    uid = owner(text, peer, server)
    return uid is None or uid in (os.geteuid(), ROOT)
