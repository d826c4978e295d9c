"""The HTTP scenarios of one scale, built from the seeded facts.

``phase`` keeps runs apart: warm-up, measurement and profiling write different titles and
place creates in different years, so no run turns into no-op updates or 409 conflicts
because of an earlier one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from bench import config
from bench.dataset import SeedFacts
from bench.plan import RequestTemplate, SlotBody

PHASES = ("main", "warmup", "profile")
OPTIONAL = frozenset({"changelog", "diff 1→50", "sync"})


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named cycle of requests against one server."""

    name: str
    server: str  # "calendo" or "bare"
    templates: tuple[RequestTemplate, ...]
    authenticated: bool = True
    concurrency: int | None = None  # None: the run's default
    description: str = ""


def _iso(week: int, days: int = 0) -> str:
    moment = config.RANGE_START + timedelta(weeks=week, days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _windows(extra: str) -> tuple[RequestTemplate, ...]:
    weeks = range(config.WINDOW_FIRST_WEEK, config.WINDOW_FIRST_WEEK + config.WINDOW_WEEKS)
    return tuple(
        RequestTemplate("GET", f"/api/events?start_time={_iso(w)}&end_time={_iso(w, 7)}{extra}")
        for w in weeks
    )


def _gets(ids: list[int], suffix: str = "") -> tuple[RequestTemplate, ...]:
    return tuple(RequestTemplate("GET", f"/api/events/{i}{suffix}") for i in ids)


def read_scenarios(facts: SeedFacts) -> list[Scenario]:
    """Reads: they change nothing, so any phase sends the same requests."""
    login = json.dumps({"username": config.BENCH_USERNAME, "password": config.BENCH_PASSWORD})
    return [
        Scenario("bare ceiling", "bare", (RequestTemplate("GET", "/bare/events"),), False),
        Scenario("get event", "calendo", _gets(facts.visible_ids)),
        Scenario("list page 20", "calendo", (RequestTemplate("GET", "/api/events?limit=20"),)),
        Scenario("list window", "calendo", _windows("&limit=20")),
        Scenario("list expand", "calendo", _windows("&limit=20&expand=true")),
        Scenario("changelog", "calendo", _gets(facts.long_history_ids, "/changelog")),
        Scenario("diff 1→50", "calendo", _gets(facts.long_history_ids, "/diff/1/50")),
        Scenario("sync", "calendo", (RequestTemplate("GET", "/api/sync"),)),
        Scenario(
            "login",
            "calendo",
            (RequestTemplate("POST", "/api/auth/login", body=login),),
            authenticated=False,
            concurrency=2,
            description="Argon2id (t=3, m=64 MiB) by design",
        ),
    ]


def write_scenarios(facts: SeedFacts, phase: str) -> list[Scenario]:
    """Writes: titles and free slots depend on ``phase``."""
    index = PHASES.index(phase)
    update_body = json.dumps({"title": f"Edited {phase} {{n}}"})
    updates = tuple(
        RequestTemplate("PUT", f"/api/events/{i}?conflict_strategy=allow", body=update_body)
        for i in facts.owned_ids
    )
    single = SlotBody(f"{2030 + 6 * index}-01-01", 1, False, f"Created {phase}")
    batch = SlotBody(f"{2050 + 30 * index}-01-01", 100, True, f"Batched {phase}")
    return [
        Scenario("update (allow)", "calendo", updates, description="title change, versioned"),
        Scenario(
            "create (reject)",
            "calendo",
            (RequestTemplate("POST", "/api/events", slots=single),),
            description="conflict-checked, free slot",
        ),
        Scenario(
            "batch 100",
            "calendo",
            (RequestTemplate("POST", "/api/events/batch", slots=batch),),
            concurrency=2,
            description="100 creates in one request",
        ),
    ]
