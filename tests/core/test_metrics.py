"""/metrics: every request labelled with its full route template; one scrape sees the host."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from prometheus_client.mmap_dict import MmapedDict

from calendo.core import observability
from tests.servers import free_port, server_env, start_server, stop_server, wait_healthy

PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
SAMPLE = re.compile(
    r'^calendo_http_requests_total\{method="([A-Z]+)",route="([^"]*)",status="(\d+)"\} (\S+)$',
    re.M,
)


def _concrete(template: str, regex: re.Pattern[str] | None) -> str:
    """The template with each parameter filled in so that the route's own pattern matches."""
    for value in ("00000000-0000-4000-8000-000000000001", "1", "x"):
        path = PARAM.sub(value, template)
        if regex is None or regex.match(path):
            return path
    raise AssertionError(f"no value fits {template}")


def _http_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, template, a path it matches) for every HTTP route of the app."""
    routes = []
    for context in iter_route_contexts(app.routes):
        methods = context.methods
        template = context.path_format
        if not methods or template is None:
            continue  # WebSocket routes and mounts
        method = sorted(methods - {"HEAD"})[0]
        routes.append((method, template, _concrete(template, getattr(context, "path_regex", None))))
    return routes


def _counts(text: str) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for method, route, _status, value in SAMPLE.findall(text):
        counts[method, route] = counts.get((method, route), 0.0) + float(value)
    return counts


async def test_every_route_is_labelled_with_its_full_template(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    routes = _http_routes(app)
    assert len(routes) > 20
    for method, _template, path in routes:
        await client.request(method, path)
    await client.get("/static/docs/swagger-ui.css")
    labels = _counts((await client.get("/metrics")).text)
    for method, template, path in routes:
        assert labels.get((method, template)) == 1.0, (
            method,
            template,
            path,
            sorted(labels),
        )
    assert labels["GET", "/static/docs/{path}"] == 1.0
    # Distinct endpoints, distinct labels: as many as there are (method, template) pairs.
    assert {key for key in labels if key[1] != "unmatched"} == {
        (method, template) for method, template, _ in routes
    } | {("GET", "/static/docs/{path}")}
    assert ("GET", "/api/audit") in labels and ("GET", "/api/notifications") in labels
    assert ("GET", "") not in labels


async def test_an_unknown_path_is_unmatched(client: httpx.AsyncClient) -> None:
    await client.get("/api/no-such-thing")
    labels = _counts((await client.get("/metrics")).text)
    assert labels["GET", "unmatched"] == 1.0


def _per_process_counts(directory: Path, route: str) -> dict[str, float]:
    """What each process wrote for GET ``route`` into the multiprocess directory."""
    counts: dict[str, float] = {}
    for path in directory.glob("counter_*.db"):
        pid = path.stem.rsplit("_", 1)[1]
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            _metric, sample, labels, _help = json.loads(key)
            if sample == "calendo_http_requests_total" and labels.get("route") == route:
                counts[pid] = counts.get(pid, 0.0) + value
    return counts


def _fresh_get(url: str) -> httpx.Response:
    """A request on a new connection, so that either worker may accept it."""
    with httpx.Client(trust_env=False) as fresh:
        return fresh.get(url)


def _spread_over_workers(url: str, directory: Path) -> int:
    """Requests to GET /api/audit until both workers have served some; how many were sent."""
    sent = 0
    while len(_per_process_counts(directory, "/api/audit")) < 2 and sent < 400:
        assert _fresh_get(url + "/api/audit").status_code == 401
        sent += 1
    assert len(_per_process_counts(directory, "/api/audit")) == 2, f"one worker served {sent}"
    return sent


@pytest.mark.slow
def test_one_scrape_counts_the_requests_of_every_worker(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = server_env(
        database_url,
        None,
        free_port(),
        CALENDO_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    )
    server = start_server("two-workers", tmp_path, env)
    try:
        wait_healthy(server)
        sent = _spread_over_workers(server.url, directory)
        for _ in range(4):  # whichever worker answers the scrape, it reports the host
            scrape = _fresh_get(server.url + "/metrics")
            assert scrape.status_code == 200
            assert _counts(scrape.text)["GET", "/api/audit"] == sent
        assert "calendo_websocket_connections 0.0" in scrape.text
    finally:
        stop_server(server)


@pytest.mark.slow
def test_serve_gives_several_workers_a_metrics_directory_and_removes_it(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(
        database_url, None, free_port(), CALENDO_WORKERS="2", CALENDO_LOOP_LAG_PROBE="1"
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = start_server("two-workers", tmp_path, env)
    try:
        wait_healthy(server)
        match = re.search(r"metrics of 2 workers in (\S+)", server.log.read_text())
        assert match is not None, server.log_tail()
        directory = Path(match.group(1))
        sent = _spread_over_workers(server.url, directory)
        text = _fresh_get(server.url + "/metrics").text
        assert _counts(text)["GET", "/api/audit"] == sent
        # The probe's gauge, published by both workers, is one sample: their maximum.
        assert len(re.findall(r"^calendo_event_loop_lag_max_seconds ", text, re.M)) == 1
        assert list(directory.glob("gauge_livemax_*.db"))
    finally:
        stop_server(server)
    assert not directory.exists()


async def test_with_several_workers_the_loop_lag_window_restarts_at_each_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Multiprocess mode: each worker publishes the worst stall since the host's last scrape."""
    monkeypatch.setattr(observability, "LAG_PUBLISH_SECONDS", 0)
    metrics = observability.Metrics()
    mark = tmp_path / observability.SCRAPE_MARK
    readings = iter([0.2, 0.05, None, 0.01, 0.03])
    published: list[float] = []

    def take_max() -> float:
        value = next(readings)
        if value is None:  # a scrape happens here: the next window starts
            mark.touch()
            return 0.0
        return value

    def record(value: float) -> None:
        published.append(value)
        if len(published) == 5:
            raise asyncio.CancelledError

    monkeypatch.setattr(metrics.loop_lag_max, "set", record)
    with pytest.raises(asyncio.CancelledError):
        await metrics._publish_loop_lag(take_max, mark)
    # 0.2 held until the scrape; the window after it starts from nothing.
    assert published == [0.2, 0.2, 0.2, 0.01, 0.03]
