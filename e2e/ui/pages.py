"""The page script: MLflow's web UI in headless Chromium, page by page, asserting on what a user
sees. The same script runs against ``mlflow server`` and against mlkube (e2e/test_ui.py), so what
it asserts is MLflow's behaviour, and the API calls the pages make can be compared.

The browser is Debian's ``chromium`` driven by Playwright (Playwright's own browser download
cannot run here). A server that wants a token gets it as an extra HTTP header on every request
(as a signing-in proxy would add it); the workspace is the UI's own choice: the ``workspace``
query parameter of the page's URL, which the bundle keeps in local storage and sends as
``X-MLFLOW-WORKSPACE`` on its API calls (when server-info says workspaces are enabled).

Each page is a step: a failing step is recorded with its reason and the script goes on, so one
run lists every page that does not work. Every step leaves a screenshot.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Page, ViewportSize, expect, sync_playwright

from e2e.ui import data
from e2e.ui.browser import CHROMIUM
from e2e.ui.network import Network

# Room for the runs table's metric columns beside the side bar.
VIEWPORT: ViewportSize = {"width": 1920, "height": 1100}
WAIT_MS = 20_000  # for one thing to show; every wait in the script is bounded by it


@dataclass(frozen=True)
class ProjectRun:
    """A Run that mlkube executed from a project: its page must show the Kubernetes facts."""

    experiment_id: str
    run_id: str
    namespace: str


@dataclass(frozen=True)
class Target:
    base: str  # the server's URL, where it serves the UI and the API
    workspace: str
    logged: data.Logged
    headers: dict[str, str] = field(default_factory=dict)
    project_run: ProjectRun | None = None


@dataclass
class Report:
    failures: list[str]  # "<page>: <why>", one per page that did not show what it should
    network: Network


@dataclass
class Visit:
    page: Page
    target: Target

    @property
    def logged(self) -> data.Logged:
        return self.target.logged

    def open(self, route: str, **query: str) -> None:
        """Loads the page afresh: going from one route to another of the same document would
        only change the hash, and the bundle's tables can race their own teardown then (AG Grid
        logs 'unable to find bean reference')."""
        params = urlencode({**query, "workspace": self.target.workspace})
        self.page.goto("about:blank")
        self.page.goto(f"{self.target.base}/#{route}?{params}")

    def see(self, text: str, exact: bool = False) -> None:
        expect(self.page.get_by_text(text, exact=exact).first).to_be_visible(timeout=WAIT_MS)

    def click(self, text: str) -> None:
        self.page.get_by_text(text, exact=True).first.click(timeout=WAIT_MS)

    def until(self, what: str, probe: Callable[[], Any], check: Callable[[Any], bool]) -> Any:
        """Polls ``probe`` until ``check`` accepts its value; fails with the last value seen."""
        value = None
        for _ in range(WAIT_MS // 250):
            value = probe()
            if check(value):
                return value
            self.page.wait_for_timeout(250)
        raise AssertionError(f"{what}: last seen {value!r}")


def experiments(visit: Visit) -> None:
    visit.open("/experiments")
    visit.see(data.EXPERIMENT, exact=True)
    visit.see("purpose")


def experiment_overview(visit: Visit) -> None:
    """Where a click on an experiment lands: its overview, whose charts summarise the
    experiment's traces (none here: MLflow draws empty charts, not an error)."""
    visit.open("/experiments")
    visit.page.get_by_role("link", name=data.EXPERIMENT, exact=True).click(timeout=WAIT_MS)
    expect(visit.page).to_have_url(
        re.compile(rf"#/experiments/{visit.logged.experiment_id}\b"), timeout=WAIT_MS
    )
    visit.see("Latency", exact=True)
    visit.see("No data available for the selected time range")


def runs_url(visit: Visit) -> str:
    return f"/experiments/{visit.logged.experiment_id}/runs"


def grid_run_names(visit: Visit) -> list[str]:
    """The run names in the runs table, in the order shown (AG Grid places rows by index)."""
    names: list[str] = visit.page.evaluate(
        """() => [...document.querySelectorAll('.ag-pinned-left-cols-container .ag-row')]
              .sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))
              .map(row => (row.innerText.match(/alpha-[0-9.]+/) || [''])[0])"""
    )
    return names


def runs_table(visit: Visit) -> None:
    visit.open(runs_url(visit))
    for alpha in data.ALPHAS:
        visit.see(f"alpha-{alpha}", exact=True)
    visit.see("3 matching runs")


def search(visit: Visit) -> None:
    visit.open(runs_url(visit))
    visit.see(f"alpha-{data.BEST_ALPHA}", exact=True)
    box = visit.page.get_by_test_id("search-box")
    box.fill(f'params.alpha = "{data.BEST_ALPHA}"')
    box.press("Enter")
    visit.see("1 matching run")
    visit.until(
        "the runs the search leaves",
        lambda: grid_run_names(visit),
        lambda names: names == [f"alpha-{data.BEST_ALPHA}"],
    )
    box.fill("")
    box.press("Enter")
    visit.see("3 matching runs")


def sort_by_metric(visit: Visit) -> None:
    visit.open(runs_url(visit))
    visit.see("3 matching runs")
    visit.page.get_by_test_id("sort-select-dropdown").click()
    visit.click("rmse")
    visit.see("Sort: rmse")
    visit.page.get_by_test_id("sort-select-dropdown").click()
    visit.page.get_by_test_id("sort-select-asc").click()
    ascending = [
        f"alpha-{alpha}" for alpha, _ in sorted(data.ALPHAS.items(), key=lambda item: item[1])
    ]
    visit.until(
        "runs by rmse, ascending", lambda: grid_run_names(visit), lambda names: names == ascending
    )


# Plotly keeps a chart's data on its element (``.data``): what the chart draws, read from the DOM.
CHART_TRACES = """() => [...document.querySelectorAll(
        '[data-testid=experiment-view-compare-runs-card]')].map(card => {
        const plot = card.querySelector('.js-plotly-plot');
        return {
            title: card.innerText.split('\\n')[0],
            traces: ((plot && plot.data) || []).map(
                t => ({name: t.name, type: t.type, x: t.x, y: t.y})),
        };
    })"""


def step_chart_ok(cards: list[dict[str, Any]]) -> bool:
    """The rmse card plots each run's whole history: steps 0..STEPS-1, from its first value
    down to the value it ends with (data.log_run)."""
    rmse = next((card for card in cards if card["title"] == "rmse"), None)
    if rmse is None:
        return False
    lines = {t["name"]: t for t in rmse["traces"] if t["type"] == "scatter" and t["x"]}
    for alpha, final in data.ALPHAS.items():
        trace = lines.get(f"alpha-{alpha}")
        if trace is None or list(trace["x"]) != list(range(data.STEPS)):
            return False
        if not (math.isclose(trace["y"][0], final + 0.5) and math.isclose(trace["y"][-1], final)):
            return False
    return True


def charts(visit: Visit) -> None:
    visit.open(runs_url(visit))
    visit.see("3 matching runs")
    visit.page.locator("label:has(input[value=CHART])").click()
    visit.see("Model metrics")
    visit.until(
        "the rmse step chart's data", lambda: visit.page.evaluate(CHART_TRACES), step_chart_ok
    )


def run_page(visit: Visit) -> None:
    logged = visit.logged
    visit.open(f"/experiments/{logged.experiment_id}/runs/{logged.best_run}")
    visit.see(f"alpha-{data.BEST_ALPHA}", exact=True)
    visit.see(data.DESCRIPTION)
    for text in ("Metrics (3)", "Parameters (3)", "l1_ratio", "solver", "team", ": ml-platform"):
        visit.see(text)
    visit.see(str(data.ALPHAS[data.BEST_ALPHA]), exact=True)
    visit.see(logged.best_run, exact=True)
    visit.see("Logged models (1)")
    visit.see(data.MODEL)


def description_edit(visit: Visit) -> None:
    logged = visit.logged
    visit.open(f"/experiments/{logged.experiment_id}/runs/{logged.best_run}")
    visit.see(data.DESCRIPTION)
    visit.page.get_by_role("button", name="Edit description").click()
    visit.page.get_by_test_id("text-area").fill(data.EDITED_DESCRIPTION)
    visit.page.get_by_role("button", name="Save").click()
    visit.see(data.EDITED_DESCRIPTION)
    visit.page.reload()  # what the server kept, not what the page remembers
    visit.see(data.EDITED_DESCRIPTION)


def blob_frame(visit: Visit) -> Frame:
    frame = visit.until(
        "the HTML preview's frame",
        lambda: next((f for f in visit.page.frames if f.url.startswith("blob:")), None),
        lambda found: found is not None,
    )
    assert isinstance(frame, Frame)
    return frame


def artifacts(visit: Visit) -> None:
    logged = visit.logged
    visit.open(f"/experiments/{logged.experiment_id}/runs/{logged.best_run}/artifacts")
    visit.click("notes.txt")
    visit.see(data.TEXT.strip())
    visit.click("config.json")
    visit.see('"l1_ratio": 0.1')
    visit.click("data")
    visit.click("sample.csv")
    visit.see("fixed_acidity", exact=True)
    visit.see("7.8", exact=True)
    visit.click("plots")
    visit.click("curve.png")
    visit.until(
        "the image preview's width",
        lambda: visit.page.evaluate(
            """() => Math.max(0, ...[...document.querySelectorAll('img[src^="blob:"]')]
                .map(image => image.naturalWidth))"""
        ),
        lambda width: width > 0,
    )
    visit.click("report.html")
    expect(blob_frame(visit).get_by_text("UI report")).to_be_visible(timeout=WAIT_MS)


def logged_model_artifacts(visit: Visit) -> None:
    """The MLmodel, previewed from the logged model's files (MLflow 3 keeps a model's files
    with the logged model, not in the run's artifacts)."""
    logged = visit.logged
    visit.open(f"/experiments/{logged.experiment_id}/models/{logged.model_id}/artifacts")
    visit.click("MLmodel")
    visit.see("loader_module: mlflow.sklearn")
    visit.see('"name": "fixed_acidity"')


def compare_runs(visit: Visit) -> None:
    logged = visit.logged
    ids = [logged.run_ids[alpha] for alpha in data.ALPHAS]
    visit.open(
        "/compare-runs", runs=json.dumps(ids), experiments=json.dumps([logged.experiment_id])
    )
    visit.see("Comparing 3 Runs")
    visit.see("Parallel Coordinates Plot")
    dimensions = visit.until(
        "the parallel coordinates plot's data",
        lambda: visit.page.evaluate(
            """() => [...document.querySelectorAll('.js-plotly-plot')]
                .flatMap(g => g.data || []).filter(t => t.type === 'parcoords')
                .flatMap(t => t.dimensions.map(d => [d.label, [...d.values].sort()]))"""
        ),
        bool,
    )
    alphas = sorted(float(alpha) for alpha in data.ALPHAS)
    assert ["alpha", alphas] in dimensions, dimensions


def registered_models(visit: Visit) -> None:
    visit.open("/models")
    visit.see(data.MODEL, exact=True)
    visit.see(f"Version {visit.logged.model_version}", exact=True)
    visit.see(f"@ {data.ALIAS}")
    visit.see("owner: ml-platform")


def model_page(visit: Visit) -> None:
    visit.open(f"/models/{data.MODEL}")
    visit.see("The UI test's model.")
    visit.see(f"Version {visit.logged.model_version}", exact=True)
    visit.see(f"@ {data.ALIAS}")
    visit.see("First version.")


def model_version_page(visit: Visit) -> None:
    visit.open(f"/models/{data.MODEL}/versions/{visit.logged.model_version}")
    visit.see(f"Version {visit.logged.model_version}", exact=True)
    visit.see(f"@ {data.ALIAS}")
    visit.see(data.STAGE, exact=True)
    visit.see("First version.")
    visit.see("validated")
    visit.see(f"alpha-{data.BEST_ALPHA}", exact=True)  # the source run
    visit.see("Inputs (2)")
    visit.see("Outputs (1)")
    visit.click("Inputs (2)")  # folded until clicked
    visit.see("fixed_acidity")


def logged_models(visit: Visit) -> None:
    visit.open(f"/experiments/{visit.logged.experiment_id}/models")
    visit.see("model", exact=True)
    visit.see("Ready", exact=True)
    visit.see(f"alpha-{data.BEST_ALPHA}", exact=True)


def logged_model_page(visit: Visit) -> None:
    logged = visit.logged
    visit.open(f"/experiments/{logged.experiment_id}/models/{logged.model_id}")
    visit.see(logged.model_id, exact=True)
    visit.see("Ready", exact=True)
    visit.see("Parameters (3)")
    visit.see(f"alpha-{data.BEST_ALPHA}", exact=True)
    visit.see(data.MODEL)


def kubernetes_tags(visit: Visit) -> None:
    run = visit.target.project_run
    assert run is not None
    visit.open(f"/experiments/{run.experiment_id}/runs/{run.run_id}")
    visit.see(f"{data.KUBERNETES_TAG_PREFIX}namespace")
    visit.see(f": {run.namespace}")
    visit.see(f"{data.KUBERNETES_TAG_PREFIX}job")


PAGES: list[tuple[str, Callable[[Visit], None]]] = [
    ("experiments", experiments),
    ("experiment-overview", experiment_overview),
    ("runs-table", runs_table),
    ("search", search),
    ("sort-by-metric", sort_by_metric),
    ("charts", charts),
    ("run-page", run_page),
    ("description-edit", description_edit),
    ("artifacts", artifacts),
    ("logged-model-artifacts", logged_model_artifacts),
    ("compare-runs", compare_runs),
    ("registered-models", registered_models),
    ("model-page", model_page),
    ("model-version-page", model_version_page),
    ("logged-models", logged_models),
    ("logged-model-page", logged_model_page),
]


def reason(error: Exception) -> str:
    """The first line of a failure, and for a Playwright wait what it waited for."""
    lines = str(error).splitlines() or [type(error).__name__]
    waited = [line.strip(" -") for line in lines if "waiting for" in line][:1]
    return "; ".join([lines[0], *waited])


def run_pages(target: Target, shots: Path) -> Report:
    """Visits every page on ``target``; screenshots go to ``shots``."""
    shots.mkdir(parents=True, exist_ok=True)
    network = Network(target.base.rstrip("/"))
    failures: list[str] = []
    steps = list(PAGES)
    if target.project_run is not None:
        steps.append(("kubernetes-tags", kubernetes_tags))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(viewport=VIEWPORT, extra_http_headers=target.headers)
            network.attach(context)
            page = context.new_page()
            visit = Visit(page, target)
            for number, (name, step) in enumerate(steps, start=1):
                network.page = name
                try:
                    step(visit)
                except (AssertionError, PlaywrightError) as error:
                    failures.append(f"{name}: {reason(error)}")
                network.quiet(page)
                page.screenshot(path=str(shots / f"{number:02d}-{name}.png"), full_page=True)
            context.close()
        finally:
            browser.close()
    return Report(failures, network)
