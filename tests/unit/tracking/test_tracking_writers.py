"""One writer per status field (issue 12): the tracking server never writes an Experiment's
status.experimentId itself; ``mlkube_operator.kube.ids.ensure_experiment_id`` is its one writer,
for the server and the operator alike."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).parents[3] / "operator" / "mlkube_operator" / "server"


def test_the_server_never_names_the_experiment_id_field() -> None:
    found = [
        f"{path.relative_to(SERVER)}:{node.lineno}"
        for path in SERVER.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value == "experimentId"
    ]
    assert found == [], "status.experimentId is written only by kube.ids.ensure_experiment_id"
