"""Integration tests of mlkube.models and `mlkube serve` against the real `mlflow` (3.17.2).

Boundary: the installed `mlflow` package is the reference. Models are written by mlflow in a
training script of their own (a subprocess, as a user would run it) and read by mlkube in a
subprocess where importing mlflow is refused; models written by mlkube are read by mlflow in
this process. `mlkube serve` runs as a real subprocess on a free 127.0.0.1 port and is always
stopped with bounded timeouts. No cluster and no object storage are needed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

# A user's training script: every model kind mlkube reads, saved by mlflow, and mlflow's own
# predictions for each, written to predictions.json.
TRAIN = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import mlflow.pyfunc, mlflow.sklearn
    from mlflow.models import infer_signature
    import pandas as pd
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import ElasticNet

    out = Path(sys.argv[1])
    # Explicit requirements skip mlflow's inference (a subprocess per model, seconds each); the
    # first model keeps the default.
    fixed = {"pip_requirements": ["scikit-learn"]}
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    net = ElasticNet(alpha=0.01, random_state=0).fit(X, y)
    forest = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    mlflow.sklearn.save_model(net, str(out / "skops"), input_example=X.head(3))
    mlflow.sklearn.save_model(net, str(out / "pickle"), serialization_format="pickle",
                              signature=infer_signature(X, net.predict(X)), **fixed)
    mlflow.sklearn.save_model(net, str(out / "cloudpickle"), serialization_format="cloudpickle",
                              **fixed)
    mlflow.sklearn.save_model(forest, str(out / "forest"), input_example=X.head(2),
                              skops_trusted_types=["sklearn.tree._tree.Tree"], **fixed)

    class Affine(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            self.scale = float(Path(context.artifacts["scale"]).read_text())
        def predict(self, context, model_input, params=None):
            return model_input[["bmi", "bp"]] * self.scale + (params or {}).get("shift", 0.0)

    (out / "scale.txt").write_text("10")
    mlflow.pyfunc.save_model(str(out / "custom"), python_model=Affine(),
                             artifacts={"scale": str(out / "scale.txt")},
                             signature=infer_signature(X, params={"shift": 0.0}), **fixed)

    rows = X.sample(25, random_state=1)
    predictions = {}
    for name in ("skops", "pickle", "cloudpickle", "forest"):
        predictions[name] = mlflow.pyfunc.load_model(str(out / name)).predict(rows).tolist()
    custom = mlflow.pyfunc.load_model(str(out / "custom"))
    predictions["custom"] = custom.predict(rows, params={"shift": 1.5}).to_dict(orient="records")
    # json, not DataFrame.to_json: that rounds to 10 digits.
    split = {"columns": list(rows.columns), "data": rows.values.tolist()}
    (out / "rows.json").write_text(json.dumps(split))
    (out / "predictions.json").write_text(json.dumps(predictions))
    """
)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    # mlflow 3.17 refuses to deserialize any model without this opt-in.
    env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "sdk"), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    return env


@pytest.fixture(scope="session")
def mlflow_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of models saved by mlflow, with rows.json and predictions.json."""
    out = tmp_path_factory.mktemp("mlflow-models")
    script = out / "train.py"
    script.write_text(TRAIN)
    subprocess.run(
        [sys.executable, str(script), str(out)],
        check=True,
        timeout=300,
        env=subprocess_env(),
        capture_output=True,
    )
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=STOP_TIMEOUT)
    return process.returncode


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    """Start `mlkube serve MODEL ARGS...` and wait until /health answers; stopped afterwards."""
    started: list[Served] = []

    def start(model: Path, *args: str) -> Served:
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlkube.cli",
                    "serve",
                    str(model),
                    "--port",
                    str(port),
                    *args,
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=subprocess_env(),
            )
        served = Served(f"http://127.0.0.1:{port}", process, log)
        started.append(served)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"mlkube serve exited with {process.returncode}:\n{served.output()}")
            try:
                if httpx.get(f"{served.url}/health", timeout=1).status_code == 200:
                    return served
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail(f"mlkube serve did not answer /health in {START_TIMEOUT}s:\n{served.output()}")

    yield start
    for served in started:
        stop(served.process)


def rows_and_predictions(models: Path) -> tuple[dict[str, object], dict[str, object]]:
    rows = json.loads((models / "rows.json").read_text())
    predictions = json.loads((models / "predictions.json").read_text())
    return rows, predictions
