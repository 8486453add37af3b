"""`mlkube serve` on the command line: arguments and their checks (no server is started)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mlkube.cli import main
from mlkube.serving.command import add_arguments


def parse(args: list[str]) -> argparse.Namespace:
    return add_arguments(argparse.ArgumentParser()).parse_args(args)


def test_serve_arguments() -> None:
    args = parse(["models:/iris@champion", "--host", "0.0.0.0", "--port", "9000", "--workers", "4"])
    assert (args.model, args.host, args.port, args.workers) == (
        "models:/iris@champion",
        "0.0.0.0",
        9000,
        4,
    )
    assert (args.timeout, args.shutdown_delay, args.graceful_timeout) == (60.0, 0.0, 30.0)


def test_defaults_listen_on_loopback() -> None:
    args = parse(["model"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 8080, 1)


def test_bad_values_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "model", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_a_missing_model_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(tmp_path / "nope")]) == 1
    assert "not a model directory" in capsys.readouterr().err
