"""The Run manifest `mlkube run` and Client.submit_project send: checked before it goes."""

from __future__ import annotations

import pytest

from mlkube.client.errors import Invalid
from mlkube.client.submit import run_body


def test_workers_reach_the_spec_and_a_bad_count_is_refused_naming_the_field() -> None:
    body = run_body(None, "distributed", {"project": {"path": "/p"}, "workers": 3})
    assert body["spec"]["workers"] == 3
    assert body["metadata"] == {"generateName": "distributed-"}
    assert run_body("one", "p", {"project": {"path": "/p"}})["spec"]["workers"] == 1
    with pytest.raises(Invalid, match=r"^spec\.workers: "):
        run_body(None, "p", {"project": {"path": "/p"}, "workers": 65})
