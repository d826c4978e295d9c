"""The Python load generator: asyncio + one pooled ``httpx.AsyncClient``, N workers, fixed time.

Runs in its own process (``python -m bench.load`` reads a ``LoadSpec`` as JSON on stdin and
prints a ``LoadResult`` as JSON), so it never shares a core's event loop with the server.
It is the fallback when ``wrk`` is not installed; being Python, it tops out at a few thousand
requests per second, so it under-measures the bare ceiling (see docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict

import httpx

from bench.config import ROOT
from bench.plan import LoadResult, LoadSpec, percentile, render

REQUEST_TIMEOUT = 60.0


async def _worker(
    client: httpx.AsyncClient,
    spec: LoadSpec,
    numbers: Iterator[int],
    deadline: float,
    latencies: list[float],
    statuses: Counter[str],
) -> None:
    while time.perf_counter() < deadline:
        n = next(numbers)
        template = spec.templates[n % len(spec.templates)]
        method, path, body = render(template, n)
        headers = {"content-type": template.content_type} if body is not None else None
        started = time.perf_counter()
        try:
            response = await client.request(method, path, content=body, headers=headers)
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        latencies.append(time.perf_counter() - started)
        statuses[status] += 1


async def generate(spec: LoadSpec) -> LoadResult:
    """Drive ``spec.base_url`` for ``spec.duration`` seconds with ``spec.concurrency`` workers."""
    limits = httpx.Limits(
        max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
    )
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    numbers = itertools.count()
    async with httpx.AsyncClient(
        base_url=spec.base_url, headers=spec.headers, limits=limits, timeout=REQUEST_TIMEOUT
    ) as client:
        started = time.perf_counter()
        deadline = started + spec.duration
        workers = [
            _worker(client, spec, numbers, deadline, latencies, statuses)
            for _ in range(spec.concurrency)
        ]
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
    latencies.sort()
    errors = sum(c for s, c in statuses.items() if not (s.isdigit() and int(s) < 400))
    return LoadResult(
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        generator="python",
        statuses=dict(statuses),
    )


def run_in_subprocess(spec: LoadSpec) -> LoadResult:
    """Run the generator in a child process and read its result."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=spec.to_json(),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=spec.duration + 3 * REQUEST_TIMEOUT,
        check=True,
    )
    return LoadResult(**json.loads(completed.stdout))


def main() -> None:
    """Entry point of the child process."""
    spec = LoadSpec.from_json(sys.stdin.read())
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    print(json.dumps(asdict(runner(generate(spec)))))


if __name__ == "__main__":
    main()
