"""The whole run: for each scale seed a database, start the server, run every scenario.

The bare ceiling app runs for the whole run and is measured again at each scale, so each
ratio compares two figures taken minutes apart on the same (shared, noisy) machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import config, machine
from bench.config import RunOptions
from bench.dataset import SeedFacts
from bench.fanout import FanoutSpec, run_in_subprocess
from bench.measure import (
    Generator,
    Measured,
    Target,
    pick_generator,
    probe,
    run_scenario,
    to_row,
)
from bench.profile_run import profile_slowest
from bench.report import BARE, Report, Row, ScaleStats
from bench.scenarios import read_scenarios, write_scenarios
from bench.seed import (
    create_postgres_database,
    database_urls,
    drop_postgres_database,
    seed_database,
)
from bench.servers import Server, start_bare, start_calendo
from calendo.core.config import Settings
from calendo.core.security import create_token
from calendo.core.types import utcnow


def log(message: str) -> None:
    """Progress on stderr (stdout carries the final table)."""
    print(message, file=sys.stderr, flush=True)


def login(url: str) -> str:
    body = {"username": config.BENCH_USERNAME, "password": config.BENCH_PASSWORD}
    response = httpx.post(f"{url}/api/auth/login", json=body, timeout=60)
    response.raise_for_status()
    return str(response.json()["access_token"])


def _mint(settings: Settings, user_id: int) -> str:
    """An access token for a seeded login session (its id is the user id)."""
    token, _, _ = create_token(
        settings, user_id=user_id, session_id=user_id, token_type="access", now=utcnow()
    )
    return token


class ScaleRun:
    """One scale: the seeded facts, the running server, the rows it produces."""

    def __init__(self, scale: str, options: RunOptions, settings: Settings, report: Report):
        self.scale = scale
        self.options = options
        self.settings = settings
        self.report = report
        self.stats = ScaleStats(scale)

    def run(self, bare: Server, generator: Generator, workdir: Path) -> None:
        """Seed, serve, measure, record memory; always stop the server and drop the data."""
        if self.options.backend == "postgres":
            name = f"calendo_bench_{os.getpid()}_{self.scale}"
            log(f"[{self.scale}] creating PostgreSQL database {name}")
            url = create_postgres_database(self.options.postgres_url, name)
            try:
                self._seed_and_serve(url, bare, generator)
            finally:
                drop_postgres_database(self.options.postgres_url, name)
            return
        db_path = workdir / f"calendo-{self.scale}.db"
        try:
            self._seed_and_serve(db_path, bare, generator)
        finally:
            if self.options.workdir is None:  # a temporary database: free the disk now
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db_path}{suffix}").unlink(missing_ok=True)

    def _seed_and_serve(self, database: Path | str, bare: Server, generator: Generator) -> None:
        """Seed ``database`` (a SQLite path or a PostgreSQL URL), serve it and measure."""
        log(f"[{self.scale}] seeding {config.SCALES[self.scale]:,} events")
        facts, timings = seed_database(database, self.scale, self.settings)
        self.stats.seed_s, self.stats.db_mb = timings["seed_s"], timings["db_mb"]
        log_path = config.RESULTS_DIR / f"calendo-server-{self.scale}.log"
        url = database_urls(database)[0] if isinstance(database, Path) else database
        server = start_calendo(
            url,
            self.settings.secret_key,
            log_path,
            workers=self.options.workers,
            redis_url=self.options.redis_url,
        )
        try:
            target = Target(server, bare, login(server.url))
            self._http(facts, target, generator, server)
            self._fanout(facts, server)
            self.stats.rss_mb, self.stats.peak_rss_mb = server.memory_mb()
            self.report.scales.append(self.stats)
            if self.options.profile and self.scale == self.options.scales[-1]:
                self._profile(facts, target, generator)
        finally:
            server.stop()

    def add(self, row: Row) -> None:
        """Record and echo a row."""
        self.report.rows.append(row)
        log(
            f"[{self.scale}] {row.scenario:<16} {row.rps or 0:>9.1f} req/s  "
            f"p50 {row.p50_ms or 0:>8.2f} ms  p99 {row.p99_ms or 0:>8.2f} ms  "
            f"cpu {row.cpu_ms or 0:>7.2f} ms/req  {row.note}"
        )

    def _http(self, facts: SeedFacts, target: Target, generator: Generator, server: Server) -> None:
        warm = {s.name: s for s in write_scenarios(facts, "warmup")}
        scenarios = read_scenarios(facts) + write_scenarios(facts, "main")
        bare: Measured | None = None
        for scenario in scenarios:
            if scenario.name == "login":
                self.stats.rss_before_login_mb = server.memory_mb()[0]
            unavailable = probe(scenario, target)
            if unavailable:
                self.add(Row(scenario.name, self.scale, note=unavailable))
                continue
            warmup = warm.get(scenario.name, scenario)
            measured = run_scenario(scenario, warmup, target, self.options, generator)
            if scenario.name == BARE:
                bare = measured
            self.add(to_row(scenario, self.scale, measured, bare))

    def _profile(self, facts: SeedFacts, target: Target, generator: Generator) -> None:
        log(f"[{self.scale}] profiling the slowest operations with py-spy")
        rows = [r for r in self.report.rows if r.scale == self.scale]
        self.report.profiles += profile_slowest(rows, facts, target, generator, self.options)

    def _fanout(self, facts: SeedFacts, server: Server) -> None:
        ws_url = server.url.replace("http://", "ws://") + "/api/notifications/ws"
        for group in sorted(facts.fanout, key=lambda g: g.size):
            if group.size not in self.options.fanout_sizes:
                continue
            spec = FanoutSpec(
                api_url=server.url,
                ws_url=ws_url,
                event_id=group.event_id,
                owner_token=_mint(self.settings, facts.fan_owner_id),
                tokens=[_mint(self.settings, uid) for uid in group.user_ids],
                rounds=self.options.fanout_rounds,
            )
            result = run_in_subprocess(spec)
            name = f"ws fan-out {group.size}"
            if result.skipped:
                self.add(Row(name, self.scale, note=f"n/a: {result.skipped}"))
                continue
            put = sorted(result.put_ms)[len(result.put_ms) // 2] if result.put_ms else 0.0
            note = (
                f"PUT → message; {result.delivered}/{result.expected} delivered, "
                f"{result.lost} lost; {result.connected}/{result.sockets} sockets; "
                f"the PUT itself {put:.0f} ms"
            )
            self.add(Row(name, self.scale, p50_ms=result.p50_ms, p99_ms=result.p99_ms, note=note))


def run(options: RunOptions) -> Report:
    """Run every scale and return the report."""
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="calendo-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        secret_key=secrets.token_urlsafe(36),
        access_token_minutes=240,
    )
    label, generator = pick_generator(options.generator)
    report = Report(header=machine.header(options, label))
    started = time.monotonic()
    config.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    bare = start_bare(config.RESULTS_DIR / "bare-server.log", options.workers)
    try:
        for scale in options.scales:
            ScaleRun(scale, options, settings, report).run(bare, generator, workdir)
    finally:
        bare.stop()
    report.header.append(machine.footer(time.monotonic() - started))
    if options.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return report
