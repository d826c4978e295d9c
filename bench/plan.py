"""What a load generator sends and what it reports, shared by ``bench.load`` and ``bench.wrk``.

A scenario is a cycle of request templates: request number ``n`` (0, 1, 2 … across all
connections) uses template ``n % len(templates)``. A body may contain ``{n}`` (so that, say,
every update sets a new title and really writes a version), or be a list of events placed
in free evening slots derived from ``n`` (so every create passes the ``reject`` check).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.config import FREE_SLOT_HOUR, FREE_SLOT_MINUTES, FREE_SLOTS_PER_DAY


@dataclass(frozen=True, slots=True)
class SlotBody:
    """``count`` events per request in free slots from ``first_day``; ``batch`` wraps them."""

    first_day: str
    count: int
    batch: bool
    title: str

    def first_epoch(self) -> int:
        """Midnight UTC of the first day, as a Unix time."""
        return int(datetime.fromisoformat(self.first_day).replace(tzinfo=UTC).timestamp())


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """One request shape; ``body`` is JSON text in which ``{n}`` is replaced."""

    method: str
    path: str
    body: str | None = None
    slots: SlotBody | None = None
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """A bounded load run: templates, auth headers, connections and duration."""

    scenario: str
    base_url: str
    templates: tuple[RequestTemplate, ...]
    headers: dict[str, str]
    concurrency: int
    duration: float

    def to_json(self) -> str:
        """Serialise for the load-generator process."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LoadSpec:
        """Read what ``to_json`` wrote."""
        raw = json.loads(text)
        templates = tuple(
            RequestTemplate(
                method=t["method"],
                path=t["path"],
                body=t["body"],
                slots=SlotBody(**t["slots"]) if t["slots"] else None,
                content_type=t.get("content_type", "application/json"),
            )
            for t in raw.pop("templates")
        )
        return cls(templates=templates, **raw)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Completed requests, failures (non-2xx/3xx or transport), duration and latency."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    generator: str
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        """Throughput in completed requests per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def slot_event(slots: SlotBody, n: int, k: int) -> dict[str, Any]:
    """Item ``k`` of request ``n``: a 25-minute event in its own free evening slot."""
    index = n * slots.count + k
    day, slot = divmod(index, FREE_SLOTS_PER_DAY)
    start = datetime.fromtimestamp(slots.first_epoch(), UTC) + timedelta(
        days=day, hours=FREE_SLOT_HOUR, minutes=30 * slot
    )
    end = start + timedelta(minutes=FREE_SLOT_MINUTES)
    return {
        "title": f"{slots.title} {n}.{k}",
        "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "location": "Bench room",
    }


def render(template: RequestTemplate, n: int) -> tuple[str, str, bytes | None]:
    """(method, path, body) of request number ``n``."""
    if template.slots is not None:
        items = [slot_event(template.slots, n, k) for k in range(template.slots.count)]
        payload: Any = {"events": items} if template.slots.batch else items[0]
        return template.method, template.path, json.dumps(payload).encode()
    if template.body is None:
        return template.method, template.path, None
    return template.method, template.path, template.body.replace("{n}", str(n)).encode()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]
