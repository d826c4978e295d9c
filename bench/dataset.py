"""The seeded calendar of one scale: who exists, who owns and sees what, in insertion chunks.

* users 1..200 (1 is the benchmark user), the fan-out owner, then the fan-out audience;
* the benchmark user's 300 events (10 % recurring, ~20 % shared out; three of them have 200
  versions each) and 100 events of others shared with them: their content is identical at
  every scale, so growth between scales measures the database, not a busier user;
* one event per fan-out size, owned by the fan-out owner and shared with that many users;
* everybody else's events up to the scale, ~20 % shared with 1–3 other users.

Ids follow creation time, as in a database that grew through the application, so the
benchmark user's events are scattered over the whole id range (and over every index).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench import config
from bench.seed_content import event_content, revise
from bench.seed_rows import RowBuilder, TableRows

SEED_NOW = config.RANGE_START + timedelta(weeks=46)
CHUNK_EVENTS = 5_000
BENCH_USER_ID = 1
FAN_OWNER_ID = config.USERS + 1


@dataclass(frozen=True, slots=True)
class FanoutGroup:
    """An event shared with ``size`` users, for the WebSocket fan-out scenario."""

    size: int
    event_id: int
    user_ids: tuple[int, ...]


@dataclass(slots=True)
class SeedFacts:
    """What the scenarios need to know about the seeded data."""

    scale: str
    events: int
    owned_ids: list[int] = field(default_factory=list)
    visible_ids: list[int] = field(default_factory=list)
    long_history_ids: list[int] = field(default_factory=list)
    fanout: list[FanoutGroup] = field(default_factory=list)
    bench_user_id: int = BENCH_USER_ID
    fan_owner_id: int = FAN_OWNER_ID


@dataclass(slots=True)
class EventSpec:
    """One event to write: owner, content revisions, creation time, shares, role in the run."""

    owner: int
    revisions: list[dict[str, Any]]
    created_at: datetime
    shares: list[tuple[int, str]]
    kind: str = "other"  # "owned", "long", "shared_in", "fanout" or "other"
    fanout_size: int = 0
    event_id: int = 0


def fan_user_ids(count: int) -> tuple[int, ...]:
    """Ids of the first ``count`` fan-out audience accounts."""
    return tuple(range(FAN_OWNER_ID + 1, FAN_OWNER_ID + 1 + count))


def _created_at(rng: random.Random, start: datetime) -> datetime:
    """Days to weeks before the start; events after the seed's "now" were created lately."""
    created = start - timedelta(days=rng.randint(1, 60), minutes=rng.randint(0, 600))
    if created < SEED_NOW:
        return created
    return SEED_NOW - timedelta(days=rng.uniform(1, 120))


def _ordinary(rng: random.Random, owner: int, kind: str) -> EventSpec:
    content = event_content(rng, recurring=rng.random() < config.RECURRING_FRACTION)
    shares: list[tuple[int, str]] = []
    if kind == "shared_in":
        shares.append((BENCH_USER_ID, rng.choice(("editor", "viewer"))))
    if rng.random() < config.SHARED_FRACTION:
        count = rng.choice((1, 1, 2, 3))
        picked = [u for u in rng.sample(range(2, config.USERS + 1), count + 1) if u != owner]
        shares += [(u, rng.choice(("editor", "viewer"))) for u in picked[:count]]
    return EventSpec(owner, [content], _created_at(rng, content["start_time"]), shares, kind)


def _long_history(rng: random.Random) -> EventSpec:
    revisions = [event_content(rng, recurring=False)]
    for number in range(2, config.LONG_HISTORY_VERSIONS + 1):
        revisions.append(revise(revisions[-1], number))
    created = _created_at(rng, revisions[0]["start_time"]) - timedelta(days=10)
    return EventSpec(BENCH_USER_ID, revisions, created, [], "long")


def bench_calendar() -> list[EventSpec]:
    """The benchmark user's own and shared-in events (the same at every scale)."""
    rng = random.Random("bench-user")
    specs = [_long_history(rng) for _ in range(config.LONG_HISTORY_EVENTS)]
    specs += [
        _ordinary(rng, BENCH_USER_ID, "owned")
        for _ in range(config.BENCH_OWNED - config.LONG_HISTORY_EVENTS)
    ]
    specs += [
        _ordinary(rng, rng.randint(2, config.USERS), "shared_in")
        for _ in range(config.BENCH_SHARED_IN)
    ]
    return specs


def fanout_events() -> list[EventSpec]:
    """One event per audience size, in the first list week, shared with viewers."""
    rng = random.Random("fanout")
    specs = []
    for size in config.FANOUT_SIZES:
        content = event_content(rng, recurring=False, day=config.WINDOW_FIRST_WEEK * 7)
        content["title"] = f"All hands ({size})"
        shares = [(u, "viewer") for u in fan_user_ids(size)]
        created = _created_at(rng, content["start_time"])
        specs.append(EventSpec(FAN_OWNER_ID, [content], created, shares, "fanout", size))
    return specs


def all_events(total: int) -> list[EventSpec]:
    """Every event of the scale, with ids assigned in creation order."""
    specs = bench_calendar() + fanout_events()
    rng = random.Random(f"others-{total}")
    specs += [
        _ordinary(rng, rng.randint(2, config.USERS), "other") for _ in range(total - len(specs))
    ]
    specs.sort(key=lambda s: s.created_at)
    for event_id, spec in enumerate(specs, start=1):
        spec.event_id = event_id
    return specs


class Dataset:
    """Generates the rows of one scale; iterate ``chunks()``, then read ``facts``."""

    def __init__(self, scale: str, events: int, password_hash: str) -> None:
        self.facts = SeedFacts(scale=scale, events=events)
        self._builder = RowBuilder()
        self._hash = password_hash
        self._total = events

    def chunks(self) -> Iterator[TableRows]:
        """Rows in insertion order, a few thousand events at a time."""
        self._users()
        specs = all_events(self._total)
        for start in range(0, len(specs), CHUNK_EVENTS):
            for spec in specs[start : start + CHUNK_EVENTS]:
                self._write(spec)
            yield self._builder.drain()
        yield self._builder.drain()

    def _users(self) -> None:
        names = {BENCH_USER_ID: config.BENCH_USERNAME, FAN_OWNER_ID: "fan_owner"}
        names.update({uid: f"user_{uid:03d}" for uid in range(2, config.USERS + 1)})
        fans = fan_user_ids(max(config.FANOUT_SIZES))
        names.update({uid: f"fan_{i:04d}" for i, uid in enumerate(fans)})
        for uid, name in sorted(names.items()):
            self._builder.add_user(uid, name, self._hash, SEED_NOW - timedelta(days=400))
        for uid in (FAN_OWNER_ID, *fans):
            self._builder.add_session(uid, SEED_NOW)

    def _write(self, spec: EventSpec) -> None:
        self._builder.add_event(spec.event_id, spec.owner, spec.revisions, spec.created_at)
        shared_at = spec.created_at + timedelta(hours=len(spec.revisions))
        title = spec.revisions[-1]["title"]
        for user_id, role in spec.shares:
            self._builder.share(spec.event_id, spec.owner, user_id, role, shared_at, title=title)
        self._record(spec)

    def _record(self, spec: EventSpec) -> None:
        facts = self.facts
        if spec.kind in ("owned", "long", "shared_in"):
            facts.visible_ids.append(spec.event_id)
        if spec.kind == "owned":
            facts.owned_ids.append(spec.event_id)
        elif spec.kind == "long":
            facts.long_history_ids.append(spec.event_id)
        elif spec.kind == "fanout":
            users = tuple(u for u, _ in spec.shares)
            facts.fanout.append(FanoutGroup(spec.fanout_size, spec.event_id, users))
