"""The tracking API fuzzed from its own OpenAPI document (GET /api/2.0/mlflow/openapi.json)
with schemathesis: a bounded, seeded number of cases per operation, data that fits the
document and data that does not, sent with a real token to a fresh workspace. Nothing may be
answered 5xx except the documented, retryable 503, nothing may take longer than TIMEOUT, and
every answer must be one the document lists for its operation."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation.modes import GenerationMode

from e2e.cluster.cluster import LocalCluster
from e2e.faults.components import tracking_uri
from e2e.faults.tally import Tally, record

# Cases per operation and mode: 61 operations x (6 fitting + 4 not) is ~600 requests.
CASES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}
TIMEOUT = 20.0  # seconds: an answer later than this is a hang
OPENAPI = "/api/2.0/mlflow/openapi.json"


@dataclass
class Fuzzer:
    """Sends CASES generated requests of every operation the server's document lists, and
    keeps what came back."""

    uri: str
    headers: dict[str, str]
    session: requests.Session = field(default_factory=requests.Session)
    sent: int = 0
    slowest: float = 0.0
    answers: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def run(self) -> Fuzzer:
        schema = schemathesis.openapi.from_url(self.uri + OPENAPI, timeout=30)
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode, cases in CASES.items():
                self.sender(operation, mode, cases)()
        return self

    def sender(self, operation: Any, mode: GenerationMode, cases: int) -> Callable[[], None]:
        """A Hypothesis test sending ``cases`` generated requests of ``operation``."""
        documented = set(operation.definition.raw["responses"])

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=cases,
            derandomize=True,  # the same cases on every run: a failure reproduces
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def send(case: schemathesis.Case) -> None:
            self.sent += 1
            started = time.monotonic()
            try:
                response = case.call(
                    base_url=self.uri, session=self.session, headers=self.headers, timeout=TIMEOUT
                )
            except requests.RequestException as err:
                self.failures.append(f"{type(err).__name__}: {self.curl(case)}")
                return
            finally:
                self.slowest = max(self.slowest, time.monotonic() - started)
            status = response.status_code
            self.answers[str(status)] += 1
            error = _error_code(response)
            if status >= 500 and (status, error) != (503, "TEMPORARILY_UNAVAILABLE"):
                self.failures.append(f"{status} {error}: {self.curl(case)}")
            elif str(status) not in documented:
                self.failures.append(f"undocumented {status} {error}: {self.curl(case)}")

        test: Callable[[], None] = send
        return test

    def curl(self, case: schemathesis.Case) -> str:
        """The request as a curl command, to reproduce it (the token left out)."""
        return str(
            case.as_curl_command(
                {"X-MLFLOW-WORKSPACE": self.headers.get("X-MLFLOW-WORKSPACE", "")},
                base_url=self.uri,
            )
        )


def test_fuzzing_the_documented_api_finds_no_5xx_and_no_hang(
    platform: LocalCluster, workspace: str
) -> None:
    headers = {
        "Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}",
        "X-MLFLOW-WORKSPACE": workspace,
    }
    found = Fuzzer(tracking_uri(platform), headers).run()
    record(
        Tally(
            "fuzzed requests (schemathesis, seeded)",
            f"{found.sent} cases over the OpenAPI document's operations",
            None,
            0,
            0,
            f"answers {dict(sorted(found.answers.items()))}; slowest {found.slowest:.1f} s; "
            f"{len(found.failures)} failing",
        )
    )
    assert found.failures == []


def _error_code(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error_code") if isinstance(body, dict) else None
