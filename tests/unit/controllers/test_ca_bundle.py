"""The operator's CA bundle: read once at start, kept as a ConfigMap in namespaces with runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from mlkube_operator.controllers.context import Context, SettingsError, read_ca_bundle
from mlkube_operator.kube import KubeClient
from mlkube_operator.kube.errors import NotFound
from mlkube_operator.settings import Settings

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class FakeConfigMaps:
    """The two ConfigMap calls of the Kubernetes adapter, over a dict."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.applied = 0

    def get_config_map(self, namespace: str, name: str) -> tuple[dict[str, str], str]:
        try:
            return dict(self.objects[namespace, name].get("data") or {}), "1"
        except KeyError:
            raise NotFound(404, "NotFound", f"configmaps {name!r} not found") from None

    def apply_configmap(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self.applied += 1
        self.objects[namespace, body["metadata"]["name"]] = body
        return body


def context(ca_bundle: str | None, fake: FakeConfigMaps) -> Context:
    return Context(
        settings=Settings(),
        kube=cast(KubeClient, fake),
        ca_bundle=ca_bundle,
    )


def test_the_settings_name_the_images_and_the_bundle() -> None:
    defaults = Settings.from_env({})
    assert defaults.runtime_image == "mlkube/mlkube-runtime:0.1.0"
    assert defaults.runner_image == defaults.serving_image == "mlkube/mlkube:0.1.0"
    assert defaults.ca_bundle == ""
    custom = Settings.from_env({"MLKUBE_RUNNER_IMAGE": "r:1", "MLKUBE_CA_BUNDLE": "/etc/ca.pem"})
    assert (custom.runner_image, custom.ca_bundle) == ("r:1", "/etc/ca.pem")


def test_the_bundle_file_is_read_or_refused_with_a_reason(tmp_path: Path) -> None:
    assert read_ca_bundle("") is None
    good = tmp_path / "ca.pem"
    good.write_text(PEM)
    assert read_ca_bundle(str(good)) == PEM
    with pytest.raises(SettingsError, match="cannot read it"):
        read_ca_bundle(str(tmp_path / "missing.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(SettingsError, match="holds no PEM certificate"):
        read_ca_bundle(str(bad))


def test_the_configmap_is_made_once_and_rewritten_when_the_bundle_changes() -> None:
    fake = FakeConfigMaps()
    context(PEM, fake).ensure_ca_bundle("ml")
    context(PEM, fake).ensure_ca_bundle("ml")
    assert fake.applied == 1
    made = fake.objects["ml", "mlkube-ca-bundle"]
    assert made["data"] == {"ca.crt": PEM}
    assert made["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "mlkube"}
    context(PEM + PEM, fake).ensure_ca_bundle("ml")
    assert fake.applied == 2
    assert fake.objects["ml", "mlkube-ca-bundle"]["data"] == {"ca.crt": PEM + PEM}


def test_without_a_bundle_nothing_is_made() -> None:
    fake = FakeConfigMaps()
    context(None, fake).ensure_ca_bundle("ml")
    assert fake.objects == {}
