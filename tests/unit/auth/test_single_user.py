"""Single-user mode exists only when asked for by name, and says so at start-up."""

from __future__ import annotations

import logging

import pytest

from mlkube_operator.server.auth.guard import SingleUser
from mlkube_operator.server.main import guard
from mlkube_operator.server.settings import AuthMode, ServerSettings


def test_authentication_is_on_unless_turned_off_by_name() -> None:
    assert ServerSettings.parse([], {}).auth is AuthMode.KUBERNETES
    assert ServerSettings.parse([], {"MLKUBE_AUTH": "none"}).auth is AuthMode.NONE
    assert ServerSettings.parse(["--auth", "none"], {}).auth is AuthMode.NONE
    with pytest.raises(SystemExit):
        ServerSettings.parse(["--auth", "off"], {})


def test_the_memory_backend_refuses_to_start_with_authentication_it_cannot_do() -> None:
    settings = ServerSettings.parse(["--backend", "memory"], {})
    with pytest.raises(SystemExit, match="--auth none"):
        guard(settings)


def test_single_user_mode_warns_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    settings = ServerSettings.parse(["--backend", "memory", "--auth", "none"], {})
    with caplog.at_level(logging.WARNING, logger="mlkube.server"):
        door = guard(settings)
    assert isinstance(door, SingleUser)
    assert "authentication is OFF" in caplog.text
    assert door.workspaces(None) == ["default"]


def test_token_audiences_come_from_the_environment() -> None:
    settings = ServerSettings.parse([], {"MLKUBE_TOKEN_AUDIENCES": "mlkube, other"})
    assert settings.token_audiences == ["mlkube", "other"]
    assert (
        ServerSettings.parse([], {"MLKUBE_ACCEPT_API_TOKENS": "false"}).accept_api_tokens is False
    )
