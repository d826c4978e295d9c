"""The walk of one ``PUT /api/events/{id}`` (a title change with ``If-Match``): which files of
``calendo/`` run code for it, middleware included, counted by a profiler hook rather than read
off the imports, so the count is what a request executes."""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import pytest

import calendo
from calendo.core.checkpoints import THREAD_NAME
from calendo.core.config import Settings
from tests.conftest import make_settings
from tests.events.conftest import EventFactory
from tests.helpers import Actor

ROOT = Path(calendo.__file__).resolve().parent
ARCHITECTURE = ROOT.parent / "docs" / "architecture.md"

# The package layers of docs/architecture.md, lowest first (the import-linter layers contract).
LAYERS = [
    {"core"},
    {"calendar"},
    {"audit"},
    {"auth"},
    {"history", "notifications", "sharing", "sync"},
    {"events"},
    {"transactions", "accounts"},
    {"api"},
    {"openapi"},
    {"app"},
]
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def _package(filename: str) -> str | None:
    """The top package of a file of ``calendo/`` (``app`` for ``calendo/app.py``), else None."""
    path = Path(filename)
    if not path.is_relative_to(ROOT):
        return None
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


class Walk:
    """Files of ``calendo/`` whose functions run, and calls from a lower layer to a higher one."""

    def __init__(self) -> None:
        self.files: dict[str, None] = {}  # in the order they first ran
        self.climbs: set[tuple[str, str]] = set()
        # The request runs in this task (and in the threads it hands work to). Other tasks
        # of the loop work beside it, not for it: SQLite's checkpoint rounds
        # (``core/checkpoints.py``) come every 100 ms whatever request is running, and their
        # thread (``calendo-wal``) is theirs alone.
        self.loop_thread = threading.get_ident()
        self.task = asyncio.current_task()

    def beside(self) -> bool:
        """Whether the code running now works beside the request rather than for it."""
        if threading.get_ident() != self.loop_thread:
            return threading.current_thread().name.startswith(THREAD_NAME)
        task = asyncio.current_task()
        return task is not None and task is not self.task

    def __call__(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call" or _package(frame.f_code.co_filename) is None or self.beside():
            return
        callee = frame.f_code.co_filename
        self.files.setdefault(str(Path(callee).relative_to(ROOT)))
        # The nearest caller in calendo/ (library frames in between are skipped: a callback
        # registered with a library is not a climb of the caller's own).
        caller = frame.f_back
        while caller is not None and _package(caller.f_code.co_filename) is None:
            caller = caller.f_back
        if caller is None:
            return
        low, high = _package(caller.f_code.co_filename), _package(callee)
        if low in RANK and high in RANK and RANK[high] > RANK[low] and caller is frame.f_back:
            self.climbs.add((caller.f_code.co_filename, callee))


# The architecture issue's target is 20 files. The walk of docs/architecture.md ("One write,
# file by file") has 31, with the middleware a deployment runs by default; that section says
# why each of them is a concern of its own. This bound holds the count where it is.
MAX_FILES = 31


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    """The middleware a deployment runs by default: rate limits on (the suite turns them off)."""
    return make_settings(database_url, redis_url, rate_limit_enabled=True)


async def test_a_title_change_never_climbs_the_layers_and_runs_code_in_a_bounded_walk(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor, settings: Settings
) -> None:
    event = await make_event(owner)
    url = f"/api/events/{event['id']}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    headers = {**owner.headers, "if-match": etag}
    walk = Walk()
    sys.setprofile(walk)
    threading.setprofile(walk)
    try:
        response = await client.put(url, json={"title": "Renamed"}, headers=headers)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Renamed"
    assert response.json()["version"] == 2
    assert not walk.climbs, sorted(walk.climbs)
    assert len(walk.files) <= MAX_FILES, "\n".join(walk.files)
    documented = documented_walk(settings)
    if settings.is_sqlite and settings.fast_path == "on":
        assert list(walk.files) == documented, "\n".join(walk.files)
    else:  # the same files; the engine's hooks and the lock run in another order there
        assert sorted(walk.files) == sorted(documented), "\n".join(walk.files)


def documented_walk(settings: Settings) -> list[str]:
    """The numbered files of docs/architecture.md's "One write, file by file", in the order
    SQLite runs them on the fast path. On PostgreSQL the calendar lock's ``auth/scopes.py`` runs where the
    inline SQLite driver does; with the fast path off, SQLite goes through aiosqlite."""
    text = ARCHITECTURE.read_text()
    section = text.split("## One write, file by file", 1)[1].split("\n## ", 1)[0]
    files = re.findall(r"^\d+\. `([\w/]+\.py)`", section, re.M)
    inline = files.index("core/sqlite_inline.py")
    if not settings.is_sqlite:
        files[inline] = "auth/scopes.py"
    elif settings.fast_path == "off":
        del files[inline]
    return files
