"""The heavy requests of the fairness benchmark, and the events they need, made through the API.

On top of the seeded 1k calendar (``bench.seed``) the benchmark user gets, by ordinary API
calls, a daily series (1,000 occurrences in each window asked for), an event with ``versions``
versions, and an event whose two versions carry long (10,000-character) descriptions that
differ in every tenth word. Each heavy request is legal and within today's limits; the writes
use ``conflict_strategy=allow`` and their own free slots, so every one of them succeeds.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from bench import config
from bench.ical_import_bench import calendar_file
from bench.plan import RequestTemplate, SlotBody, slot_event
from bench.seed_content import SENTENCES

SERIES_START = datetime(2031, 1, 6, 10, 0, tzinfo=UTC)
OCCURRENCES = 1000
# Distinct windows, so the per-window occurrence cache never answers for the expansion.
WINDOWS = 400
TRANSACTION_BODIES = 60
DESCRIPTION_CHARS = 10_000
# A 1,000-event iCalendar file (0.9 MiB: a tenth weekly series with two overrides each).
IMPORT_FILE = calendar_file(1000).decode()
EXPAND_WINDOW = (config.RANGE_START + timedelta(weeks=40), config.RANGE_START + timedelta(weeks=66))


@dataclass(frozen=True, slots=True)
class Fixtures:
    """Ids of the events the heavy requests read."""

    series_id: int
    long_id: int
    diff_id: int


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _create(client: httpx.Client, body: dict[str, object]) -> dict[str, object]:
    response = client.post("/api/events?conflict_strategy=allow", json=body)
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result


def _update(client: httpx.Client, event_id: int, body: dict[str, object]) -> None:
    response = client.put(f"/api/events/{event_id}?conflict_strategy=allow", json=body)
    response.raise_for_status()


def long_text(seed: str, edited: bool = False) -> str:
    """About 10,000 characters of sentences; ``edited`` changes every tenth word."""
    rng = random.Random(seed)
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < DESCRIPTION_CHARS - 200:
        words += rng.choice(SENTENCES).split()
    if edited:
        words = [f"{w}-x" if i % 10 == 0 else w for i, w in enumerate(words)]
    return " ".join(words)[:DESCRIPTION_CHARS]


def prepare(base_url: str, token: str, versions: int) -> Fixtures:
    """Create the series, the long-history event and the long-description pair."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        start = SERIES_START
        series = _create(
            client,
            {
                "title": "Daily stand-up (fairness)",
                "start_time": _iso(start),
                "end_time": _iso(start + timedelta(minutes=15)),
                "recurrence_pattern": "FREQ=DAILY",
            },
        )
        start = SERIES_START + timedelta(days=3650)
        long = _create(
            client,
            {
                "title": "Long history (fairness)",
                "start_time": _iso(start),
                "end_time": _iso(start + timedelta(hours=1)),
            },
        )
        long_id = int(str(long["id"]))
        for number in range(2, versions + 1):
            field = "title" if number % 2 else "description"
            text = SENTENCES[number % len(SENTENCES)]
            _update(client, long_id, {field: f"Revision {number}: {text}"})
        start += timedelta(days=1)
        pair = _create(
            client,
            {
                "title": "Long descriptions (fairness)",
                "description": long_text("diff"),
                "start_time": _iso(start),
                "end_time": _iso(start + timedelta(hours=1)),
            },
        )
        diff_id = int(str(pair["id"]))
        _update(client, diff_id, {"description": long_text("diff", edited=True)})
    return Fixtures(int(str(series["id"])), long_id, diff_id)


def _occurrence_windows(series_id: int) -> tuple[RequestTemplate, ...]:
    templates = []
    for k in range(WINDOWS):
        start = SERIES_START - timedelta(hours=9, minutes=-k)  # before the first occurrence
        end = start + timedelta(days=OCCURRENCES)
        path = (
            f"/api/events/{series_id}/occurrences?start_time={_iso(start)}"
            f"&end_time={_iso(end)}&limit={OCCURRENCES}"
        )
        templates.append(RequestTemplate("GET", path))
    return tuple(templates)


def _transactions(phase: int) -> tuple[RequestTemplate, ...]:
    slots = SlotBody(f"{2070 + 10 * phase}-01-01", 100, False, f"Transaction {phase}")
    templates = []
    for n in range(TRANSACTION_BODIES):
        operations = [{"op": "create", "event": slot_event(slots, n, k)} for k in range(100)]
        body = json.dumps({"operations": operations})
        templates.append(
            RequestTemplate("POST", "/api/transactions?conflict_strategy=allow", body=body)
        )
    return tuple(templates)


def heavy_requests(fixtures: Fixtures, phase: int) -> dict[str, tuple[RequestTemplate, ...]]:
    """Each heavy request by name; ``phase`` (0, 1, …) gives the writes their own slots."""
    expand_start, expand_end = (_iso(t) for t in EXPAND_WINDOW)
    batch = SlotBody(f"{2040 + 5 * phase}-01-01", 100, True, f"Batch {phase}")
    now = _iso(datetime.now(UTC))
    return {
        "occurrences 1000": _occurrence_windows(fixtures.series_id),
        "list expand 200": (
            RequestTemplate(
                "GET",
                f"/api/events?start_time={expand_start}&end_time={expand_end}"
                "&expand=true&limit=200",
            ),
        ),
        "history 300 versions": (
            RequestTemplate("GET", f"/api/events/{fixtures.long_id}/history?limit=200"),
        ),
        "changelog 300 versions": (
            RequestTemplate("GET", f"/api/events/{fixtures.long_id}/changelog?limit=200"),
        ),
        "sync page 200": (RequestTemplate("GET", "/api/sync?limit=200"),),
        "as_of list 200": (RequestTemplate("GET", f"/api/events?as_of={now}&limit=200"),),
        "batch 100": (
            RequestTemplate("POST", "/api/events/batch?conflict_strategy=allow", slots=batch),
        ),
        "transaction 100": _transactions(phase),
        "diff html (10 kB texts)": (
            RequestTemplate("GET", f"/api/events/{fixtures.diff_id}/diff/1/2?format=html"),
        ),
        # Read in steps on the loop, then ten parts written and rolled back.
        "import 1000 (dry run)": (
            RequestTemplate(
                "POST",
                "/api/events/import?dry_run=true&conflict_strategy=allow",
                body=IMPORT_FILE,
                content_type="text/calendar",
            ),
        ),
    }
