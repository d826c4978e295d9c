"""``python -m bench.fairness [--backend sqlite|postgres] [--quick]``: head-of-line blocking.

One Calendo worker (a real uvicorn server, ``bench.servers``) on the seeded 1k calendar
(``bench.seed``). One client reads single events (``GET /api/events/{id}``, one connection,
back to back) and its p50/p99 is measured alone, then beside each heavy legal request
(``bench.fairness_fixtures``) sent in a loop by one client, then by three at once. The load
comes from ``bench.load`` processes, so no client shares a loop with another. Also measured:

* the longest event-loop stall *inside* the server: the server runs with
  ``CALENDO_LOOP_LAG_PROBE=1`` and the bench reads ``calendo_event_loop_lag_max_seconds`` from
  ``/metrics`` before and after each phase (a read starts a new window);
* how late WebSocket heartbeats come: the server pings every ``HEARTBEAT`` second an idle
  socket, which a subscriber here watches; the figure is the longest gap minus the interval.

Targets, as ratios within the run: the cheap read's p99 beside one heavy client at most
5x its idle p99, beside three at most 15x; no loop stall over 100 ms; no heavy request fails.
"""

from __future__ import annotations

import argparse
import itertools
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from bench import config, fairness_fixtures, load, machine
from bench.plan import LoadResult, LoadSpec, RequestTemplate, render
from bench.runner import log, login
from bench.seed import (
    create_postgres_database,
    database_urls,
    drop_postgres_database,
    seed_database,
)
from bench.servers import Server, start_calendo
from calendo.core.config import Settings

POSTGRES_DATABASE = "calendo_bench_fair"
HEARTBEAT = 1.0
LEAD = 0.6  # heavy clients start this long before the cheap reads are measured
SINGLE_TARGET, TRIPLE_TARGET, STALL_TARGET_MS = 5.0, 15.0, 100.0
LAG_GAUGE = "calendo_event_loop_lag_max_seconds"


@dataclass(frozen=True, slots=True)
class FairOptions:
    """Command-line choices."""

    backend: str = "sqlite"
    duration: float = 5.0
    versions: int = 300
    only: tuple[str, ...] = ()
    postgres_url: str = config.POSTGRES_URL
    output: Path | None = None
    mode: str = "full"


@dataclass(slots=True)
class Phase:
    """The cheap reads beside ``clients`` heavy clients sending ``heavy`` (none: idle)."""

    heavy: str
    clients: int
    cheap: LoadResult
    load: LoadResult | None
    stall_ms: float
    heartbeat_late_ms: float

    @property
    def failed(self) -> int:
        """Heavy and cheap requests that did not succeed."""
        return self.cheap.errors + (self.load.errors if self.load else 0)


@dataclass(slots=True)
class Heartbeats:
    """A WebSocket subscriber in a thread, recording when each frame arrives."""

    url: str
    arrivals: list[float] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect and listen in a daemon thread."""
        self.thread = threading.Thread(target=self._listen, daemon=True, name="heartbeats")
        self.thread.start()

    def stop(self) -> None:
        """Close the socket and wait for the thread."""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _listen(self) -> None:
        try:
            with connect(self.url, open_timeout=30) as socket:
                while not self.stopped.is_set():
                    try:
                        socket.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    self.arrivals.append(time.monotonic())
        except (OSError, WebSocketException) as exc:
            log(f"heartbeat socket ended: {exc!r}")

    def late_ms(self, since: float, until: float) -> float:
        """The longest gap between frames overlapping ``[since, until]``, minus the interval."""
        times = [*self.arrivals, until]
        gaps = [b - a for a, b in itertools.pairwise(times) if b >= since and a <= until]
        return max(0.0, max(gaps, default=0.0) - HEARTBEAT) * 1000


def _stall_ms(client: httpx.Client) -> float:
    """The loop-lag gauge (which the read resets), in ms."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(LAG_GAUGE + " "):
            return float(line.split()[1]) * 1000
    raise RuntimeError(f"{LAG_GAUGE} missing from /metrics: is the probe on?")


class Bench:
    """The running server and what each phase needs."""

    def __init__(self, server: Server, token: str, cheap: tuple[RequestTemplate, ...]) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {token}"}
        self.cheap = cheap
        self.metrics = httpx.Client(base_url=server.url, timeout=60)
        ws = server.url.replace("http://", "ws://")
        self.heartbeats = Heartbeats(f"{ws}/api/notifications/ws?token={token}")

    def close(self) -> None:
        """Stop the subscriber and close the metrics client."""
        self.heartbeats.stop()
        self.metrics.close()

    def _spec(
        self, name: str, templates: tuple[RequestTemplate, ...], n: int, s: float
    ) -> LoadSpec:
        return LoadSpec(name, self.server.url, templates, self.headers, n, s)

    def phase(
        self, name: str, templates: tuple[RequestTemplate, ...], clients: int, duration: float
    ) -> Phase:
        """Cheap reads for ``duration`` s while ``clients`` send ``templates`` (0: alone)."""
        self.server.wait_idle()
        with ThreadPoolExecutor(max_workers=1) as pool:
            heavy = None
            if clients:
                spec = self._spec(name, templates, clients, LEAD + duration + 0.5)
                heavy = pool.submit(load.run_in_subprocess, spec)
                time.sleep(LEAD)
            _stall_ms(self.metrics)  # start a new window
            since = time.monotonic()
            cheap = load.run_in_subprocess(self._spec("cheap read", self.cheap, 1, duration))
            until = time.monotonic()
            stall = _stall_ms(self.metrics)
            loaded = heavy.result() if heavy else None
        phase = Phase(name, clients, cheap, loaded, stall, self.heartbeats.late_ms(since, until))
        log(_line(phase))
        return phase


def _line(p: Phase) -> str:
    heavy = f"{p.load.requests} heavy, p50 {p.load.p50_ms:.0f} ms" if p.load else "idle"
    return (
        f"{p.heavy:<24} x{p.clients}: cheap p50 {p.cheap.p50_ms:6.1f} ms p99 "
        f"{p.cheap.p99_ms:7.1f} ms; stall {p.stall_ms:6.1f} ms; heartbeat "
        f"+{p.heartbeat_late_ms:.0f} ms; {heavy}; failed {p.failed}"
    )


HeavySet = dict[str, tuple[RequestTemplate, ...]]


def _warm(server: Server, headers: dict[str, str], heavy: HeavySet) -> None:
    """One of each heavy request, asserted 2xx, before anything is measured."""
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        for name, templates in heavy.items():
            method, path, body = render(templates[0], 0)
            kind = {"content-type": templates[0].content_type}
            response = client.request(method, path, content=body, headers=kind)
            if not response.is_success:
                raise SystemExit(f"{name}: HTTP {response.status_code} {response.text[:300]}")


def _ratio(value: float, idle: float) -> float:
    return value / idle if idle > 0 else float("inf")


def _target(clients: int) -> float:
    return SINGLE_TARGET if clients == 1 else TRIPLE_TARGET


def _failures(p: Phase) -> str:
    if not p.failed:
        return "0"
    bad = {s: c for r in (p.cheap, p.load) if r for s, c in r.statuses.items() if s[0] not in "23"}
    return f"**{p.failed}** {bad}"


def to_markdown(phases: list[Phase], header: list[str]) -> str:
    """The table (one row per phase) and the verdict."""
    idle = phases[0].cheap.p99_ms
    lines = [
        *header,
        "",
        "| heavy request | heavy clients | heavy done | heavy p50 ms | cheap p50 ms | "
        "cheap p99 ms | p99 × idle | target | longest loop stall ms | heartbeat late ms | "
        "failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in phases:
        done = str(p.load.requests) if p.load else "–"
        heavy_p50 = f"{p.load.p50_ms:.0f}" if p.load else "–"
        ratio = _ratio(p.cheap.p99_ms, idle)
        target = f"≤ {_target(p.clients):g}x" if p.clients else "–"
        lines.append(
            f"| {p.heavy} | {p.clients} | {done} | {heavy_p50} | {p.cheap.p50_ms:.1f} | "
            f"{p.cheap.p99_ms:.1f} | {ratio:.1f}x | {target} | {p.stall_ms:.0f} | "
            f"{p.heartbeat_late_ms:.0f} | {_failures(p)} |"
        )
    return "\n".join([*lines, "", *verdict(phases)]) + "\n"


def verdict(phases: list[Phase]) -> list[str]:
    """One line per broken target, then PASS or FAIL."""
    idle = phases[0].cheap.p99_ms
    broken = []
    for p in phases[1:]:
        ratio = _ratio(p.cheap.p99_ms, idle)
        if ratio > _target(p.clients):
            broken.append(f"- {p.heavy} x{p.clients}: cheap p99 {ratio:.1f}x idle")
    broken += [
        f"- {p.heavy} x{p.clients}: loop stall {p.stall_ms:.0f} ms"
        for p in phases
        if p.stall_ms > STALL_TARGET_MS
    ]
    broken += [f"- {p.heavy} x{p.clients}: {p.failed} failed" for p in phases if p.failed]
    word = "FAIL" if broken else "PASS"
    return [
        f"**Verdict: {word}** (cheap p99 ≤ {SINGLE_TARGET:g}x idle beside one heavy client, "
        f"≤ {TRIPLE_TARGET:g}x beside three; no loop stall over {STALL_TARGET_MS:g} ms; "
        "no failure)",
        *broken,
    ]


def measure(server: Server, opts: FairOptions, cheap: tuple[RequestTemplate, ...]) -> list[Phase]:
    """Make the fixtures, warm up, run every phase."""
    token = login(server.url)
    fixtures = fairness_fixtures.prepare(server.url, token, opts.versions)
    bench = Bench(server, token, cheap)

    def chosen(phase: int) -> HeavySet:
        heavy = fairness_fixtures.heavy_requests(fixtures, phase)
        return {k: v for k, v in heavy.items() if not opts.only or k in opts.only}

    _warm(server, bench.headers, chosen(2))
    bench.heartbeats.start()
    try:
        bench.phase("warm-up", cheap, 0, min(1.0, opts.duration))
        phases = [bench.phase("none (idle)", (), 0, opts.duration)]
        single, triple = chosen(0), chosen(1)
        for name in single:
            phases.append(bench.phase(name, single[name], 1, opts.duration))
            phases.append(bench.phase(name, triple[name], 3, opts.duration))
    finally:
        bench.close()
    return phases


def _serve_and_measure(database: Path | str, opts: FairOptions, workdir: Path) -> list[Phase]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        secret_key=secrets.token_urlsafe(36),
        access_token_minutes=240,
    )
    log(f"seeding {config.SCALES['1k']:,} events ({opts.backend})")
    facts, _ = seed_database(database, "1k", settings)
    url = database_urls(database)[0] if isinstance(database, Path) else database
    extra = {"CALENDO_LOOP_LAG_PROBE": "1", "CALENDO_WS_HEARTBEAT_SECONDS": f"{HEARTBEAT:g}"}
    server = start_calendo(
        url, settings.secret_key, workdir / "calendo-fairness.log", extra_env=extra
    )
    cheap = tuple(RequestTemplate("GET", f"/api/events/{i}") for i in facts.visible_ids)
    try:
        return measure(server, opts, cheap)
    finally:
        server.stop()


def run(opts: FairOptions) -> str:
    """Seed, serve, measure; the markdown report."""
    header = [
        *machine.describe(opts.mode),
        f"- one uvicorn worker, {opts.backend}; 1k events; cheap read = GET /api/events/{{id}} "
        f"on one connection for {opts.duration:g} s per phase; WebSocket heartbeat "
        f"{HEARTBEAT:g} s; loop-lag probe every 10 ms",
    ]
    with tempfile.TemporaryDirectory(prefix="calendo-fair-") as tmp:
        workdir = Path(tmp)
        if opts.backend == "postgres":
            database = create_postgres_database(opts.postgres_url, POSTGRES_DATABASE)
            try:
                phases = _serve_and_measure(database, opts, workdir)
            finally:
                drop_postgres_database(opts.postgres_url, POSTGRES_DATABASE)
        else:
            phases = _serve_and_measure(workdir / "calendo-1k.db", opts, workdir)
    return to_markdown(phases, header)


def parse_args(argv: list[str] | None = None) -> FairOptions:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.fairness", description=__doc__)
    parser.add_argument("--backend", choices=config.BACKENDS, default="sqlite")
    parser.add_argument("--quick", action="store_true", help="2 s per phase (about 90 s)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per phase (5)")
    parser.add_argument("--versions", type=int, default=300, help="of the long-history event")
    parser.add_argument("--only", default="", help="comma-separated heavy request names")
    parser.add_argument("--postgres-url", default=config.POSTGRES_URL, help="server URL, no db")
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    duration = args.duration or (2.0 if args.quick else 5.0)
    return FairOptions(
        backend=args.backend,
        duration=duration,
        versions=max(2, args.versions),
        only=tuple(s.strip() for s in args.only.split(",") if s.strip()),
        postgres_url=args.postgres_url,
        output=args.output,
        mode="quick" if args.quick else "full",
    )


def main(argv: list[str] | None = None) -> int:
    """Run and print (and save with ``--output``); the exit status is 0 whatever the verdict."""
    opts = parse_args(argv)
    markdown = run(opts)
    if opts.output is not None:
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        opts.output.write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
