"""mlkube.auth.bearer_token: the user's token wins; else the pod's token file, read anew."""

from __future__ import annotations

from pathlib import Path

from mlkube.auth import TOKEN_FILE, TOKEN_FILE_ENV, bearer_token


def test_the_users_token_wins_over_the_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("pod\n")
    env = {"MLFLOW_TRACKING_TOKEN": "user", TOKEN_FILE_ENV: str(token)}
    assert bearer_token(env) == "user"


def test_the_file_is_read_on_every_call(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("  first\n")
    env = {TOKEN_FILE_ENV: str(token)}
    assert bearer_token(env) == "first"
    token.write_text("second\n")
    assert bearer_token(env) == "second"


def test_no_token_is_none(tmp_path: Path) -> None:
    assert bearer_token({}) is None
    assert bearer_token({TOKEN_FILE_ENV: str(tmp_path / "missing")}) is None
    (tmp_path / "empty").write_text("\n")
    assert bearer_token({TOKEN_FILE_ENV: str(tmp_path / "empty")}) is None
    assert TOKEN_FILE == "/var/run/secrets/mlkube.io/serviceaccount/token"
