"""Running one scenario: pick the load generator, probe optional endpoints, warm up, measure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bench import load, wrk
from bench.config import RunOptions
from bench.plan import LoadResult, LoadSpec, render
from bench.report import Row
from bench.scenarios import OPTIONAL, Scenario
from bench.servers import Server

Generator = Callable[[LoadSpec], LoadResult]


@dataclass(frozen=True, slots=True)
class Measured:
    """A load result and the CPU time the server process spent during it (all threads)."""

    result: LoadResult
    server_cpu_s: float

    @property
    def cpu_ms_per_request(self) -> float | None:
        """Server CPU per completed request: robust to other load on a shared machine."""
        if not self.result.requests:
            return None
        return self.server_cpu_s * 1000 / self.result.requests


@dataclass(frozen=True, slots=True)
class Target:
    """The two servers and the benchmark user's access token."""

    calendo: Server
    bare: Server
    token: str

    def server_of(self, scenario: Scenario) -> Server:
        """The server a scenario drives."""
        return self.bare if scenario.server == "bare" else self.calendo

    def url_of(self, scenario: Scenario) -> str:
        """Base URL of the server a scenario drives."""
        return self.server_of(scenario).url

    def headers_of(self, scenario: Scenario) -> dict[str, str]:
        """Authorization for authenticated scenarios."""
        return {"Authorization": f"Bearer {self.token}"} if scenario.authenticated else {}


def pick_generator(choice: str) -> tuple[str, Generator]:
    """``wrk`` when asked for or (``auto``) installed; the Python generator otherwise."""
    if choice == "wrk" and not wrk.available():
        raise SystemExit("--generator wrk: wrk is not installed (apt-get install wrk)")
    if choice in ("wrk", "auto") and wrk.available():
        return "wrk (1 thread)", wrk.run
    return "python (asyncio + httpx, separate process)", load.run_in_subprocess


def spec_for(scenario: Scenario, target: Target, options: RunOptions, seconds: float) -> LoadSpec:
    """The load spec of a scenario for a given duration."""
    return LoadSpec(
        scenario=scenario.name,
        base_url=target.url_of(scenario),
        templates=scenario.templates,
        headers=target.headers_of(scenario),
        concurrency=scenario.concurrency or options.concurrency,
        duration=seconds,
    )


def probe(scenario: Scenario, target: Target) -> str | None:
    """For an endpoint that may not exist yet: None if it answers 2xx, else why it is n/a."""
    if scenario.name not in OPTIONAL:
        return None
    method, path, body = render(scenario.templates[0], 0)
    response = httpx.request(
        method,
        target.url_of(scenario) + path,
        headers=target.headers_of(scenario),
        content=body,
        timeout=60,
    )
    if response.is_success:
        return None
    return f"n/a: HTTP {response.status_code} (endpoint not available)"


def run_scenario(
    scenario: Scenario,
    warmup: Scenario,
    target: Target,
    options: RunOptions,
    generator: Generator,
) -> Measured:
    """A short warm-up run (its own titles and slots), then the measured run.

    Each run starts on an idle server: the backlog of the previous one is drained first. The
    server's CPU time is read around the measured run (requests still in flight at its end
    are counted in the CPU but not in the requests: a slight overestimate for slow ones).
    """
    server = target.server_of(scenario)
    if options.warmup > 0:
        server.wait_idle()
        generator(spec_for(warmup, target, options, options.warmup))
    server.wait_idle()
    cpu_before = server.cpu_seconds()
    result = generator(spec_for(scenario, target, options, options.duration))
    measured = Measured(result, server.cpu_seconds() - cpu_before)
    server.wait_idle()
    return measured


def to_row(scenario: Scenario, scale: str, measured: Measured, bare: Measured | None) -> Row:
    """A table row; failures are reported in the notes with their status codes."""
    result = measured.result
    notes = [scenario.description] if scenario.description else []
    if scenario.concurrency:
        notes.append(f"{scenario.concurrency} connections")
    if result.errors:
        failed = {s: c for s, c in result.statuses.items() if not s.startswith(("2", "3"))}
        notes.append(f"**{result.errors}/{result.requests} failed** {failed}")
    cpu_ms = measured.cpu_ms_per_request
    bare_cpu_ms = bare.cpu_ms_per_request if bare else None
    return Row(
        scenario=scenario.name,
        scale=scale,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        ratio=result.rps / bare.result.rps if bare and bare.result.rps else None,
        cpu_ms=cpu_ms,
        cpu_ratio=bare_cpu_ms / cpu_ms if bare_cpu_ms and cpu_ms else None,
        note="; ".join(notes),
    )
