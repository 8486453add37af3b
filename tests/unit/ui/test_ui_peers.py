"""Whose is a loopback connection (mlkube.ui.peers), read from /proc/net/tcp's text."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from mlkube.ui.peers import admitted, owner

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  ...\n"


def hexaddr(host: str, port: int) -> str:
    (word,) = struct.unpack("=I", socket.inet_aton(host))
    return f"{word:08X}:{port:04X}"


def row(local: tuple[str, int], remote: tuple[str, int], uid: int) -> str:
    return (
        f"   0: {hexaddr(*local)} {hexaddr(*remote)} 01 00000000:00000000 00:00000000 "
        f"00000000 {uid:5d}        0 12345 1 0000000000000000 20 4 30 10 -1\n"
    )


SERVER = ("127.0.0.1", 8000)
PEER = ("127.0.0.1", 51234)


def test_the_peer_sockets_owner_is_read_from_the_row_of_that_connection() -> None:
    table = HEADER + row(SERVER, PEER, 1000) + row(PEER, SERVER, 1001) + row(PEER, SERVER, 0)
    # The first row that matches: the peer's own socket (local = the peer, remote = us).
    assert owner(table, PEER, SERVER) == 1001
    assert owner(table, SERVER, PEER) == 1000
    assert owner(table, ("127.0.0.1", 1), SERVER) is None


def test_little_endian_hex_as_the_kernel_prints_it() -> None:
    if struct.pack("=I", 1) == struct.pack("<I", 1):
        assert hexaddr("127.0.0.1", 8000) == "0100007F:1F40"


def test_another_users_socket_is_not_admitted(tmp_path: Path) -> None:
    table = tmp_path / "tcp"
    other = os.geteuid() + 4242
    table.write_text(HEADER + row(PEER, SERVER, other))
    assert not admitted(PEER, SERVER, table)


def test_own_and_roots_sockets_are_admitted(tmp_path: Path) -> None:
    table = tmp_path / "tcp"
    table.write_text(HEADER + row(PEER, SERVER, os.geteuid()))
    assert admitted(PEER, SERVER, table)
    table.write_text(HEADER + row(PEER, SERVER, 0))
    assert admitted(PEER, SERVER, table)


def test_when_the_system_does_not_say_the_cookie_alone_decides(tmp_path: Path) -> None:
    assert admitted(PEER, SERVER, tmp_path / "no-such-table")
    empty = tmp_path / "tcp"
    empty.write_text(HEADER)
    assert admitted(PEER, SERVER, empty)
