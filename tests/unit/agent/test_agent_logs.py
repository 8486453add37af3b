from __future__ import annotations

from pathlib import Path

from e2e.cluster.agent import logs

LOG = (
    b"2026-01-01T00:00:01.000000000Z stdout F first\n"
    b"2026-01-01T00:00:02.000000000Z stderr P part-\n"
    b"2026-01-01T00:00:02.500000000Z stderr F ial\n"
    b"2026-01-01T00:00:03.000000000Z stdout F third\n"
)


def test_records_render_back_to_the_output(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LOG)
    records = logs.records(path)
    assert b"".join(logs.render(r, False) for r in records) == b"first\npart-ial\nthird\n"
    assert logs.render(records[0], True) == b"2026-01-01T00:00:01.000000000Z first\n"


def test_tail_counts_whole_lines_and_since_filters_by_time(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LOG)
    records = logs.records(path)
    tail = logs.select(records, tail_lines=2)
    assert b"".join(logs.render(r, False) for r in tail) == b"part-ial\nthird\n"
    since = logs.select(records, since_nanos=logs.to_nanos("2026-01-01T00:00:02.600Z"))
    assert [r.content for r in since] == [b"third"]


def test_rotated_files_are_read_first(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    (tmp_path / "0.log.1").write_bytes(b"2026-01-01T00:00:00Z stdout F old\n")
    path.write_bytes(LOG)
    assert logs.records(path)[0].content == b"old"


def test_the_termination_fallback_is_the_log_tail(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"".join(b"2026-01-01T00:00:01Z stdout F line %d\n" % i for i in range(200)))
    message = logs.termination_fallback(path)
    assert message.endswith("line 199\n")
    assert len(message.encode()) <= 2048


def test_timestamps_with_offsets_convert() -> None:
    assert logs.to_nanos("2026-01-01T01:00:00+01:00") == logs.to_nanos("2026-01-01T00:00:00Z")
