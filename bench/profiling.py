"""Optional sampling profiles with py-spy, summarised as text.

``py-spy record --gil --format raw`` writes collapsed stacks (one ``frame;frame;... count``
line per distinct stack; speedscope.app opens the file as is) of the samples where a thread
holds the GIL, i.e. runs Python. Without ``--gil`` py-spy counts threads blocked in C (an idle
thread-pool worker) as busy. SQLite's own C work releases the GIL and so is not in these
stacks; it runs on the event loop's thread (``core/sqlite_inline.py``), so it shows only in
the CPU time per request (/proc). A server still on aiosqlite would show it as CPU outside
the main thread.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.config import ROOT

_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
_DB_THREAD = "aiosqlite/core.py"
_THREADPOOL = "WorkerThread.run (anyio/"


def find_py_spy(explicit: str | None) -> str | None:
    """The py-spy executable: the one given, on PATH, or in the project's venv."""
    candidates = [explicit, shutil.which("py-spy"), str(ROOT / ".venv" / "bin" / "py-spy")]
    return next((c for c in candidates if c and Path(c).exists()), None)


def start_recording(py_spy: str, pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` at 100 Hz for ``seconds`` into ``out`` (collapsed stacks)."""
    argv = [py_spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    argv += ["--rate", "100", "--gil", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _short(frame: str) -> str:
    """``func (file)`` with the path cut to the package and without the line number."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["path"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path})"


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    """Where the samples were: innermost frames, and the Calendo code behind them."""

    samples: int
    self_top: list[tuple[str, float]]
    app_top: list[tuple[str, float]]


# Frames whose own samples are native code below them, named for what that code is.
_NATIVE = {
    "_connection_worker_thread (aiosqlite/core.py)": "SQLite (C) in aiosqlite's thread",
    "Runner.run (asyncio/runners.py)": "event loop (uvloop C: sockets, callbacks)",
    "Condition.wait (threading.py)": "thread hand-off (queue wake-up, GIL)",
}
# Every request passes through these: what runs below them and outside Calendo's own code is
# the framework (routing, parameter parsing, response validation and serialisation).
_OUTER = ("calendo/__main__.py", "calendo/core/observability.py", "calendo/core/ratelimit.py")
_FRAMEWORK = "FastAPI/Starlette/pydantic below the middleware"


def _owner(frames: list[str], in_db_thread: bool) -> str:
    """The deepest Calendo frame of a stack: the application code that caused the sample."""
    if in_db_thread:
        return "SQLite + aiosqlite's thread (the queries)"
    if any(_THREADPOOL in f for f in frames[:4]):
        return "anyio threadpool (sync `def` dependencies, to_thread)"
    if frames[0].startswith(("Session.", "AsyncSession.")):
        # SQLAlchemy's async layer runs the ORM in a greenlet whose stack starts there, without
        # the application frames that called it.
        return "SQLAlchemy ORM in its greenlet (compile, cache keys, load rows, flush)"
    for depth, frame in enumerate(reversed(frames)):
        if "calendo/" not in frame:
            continue
        outer = any(marker in frame for marker in _OUTER) or "NegotiationMiddleware" in frame
        if outer and depth > 0:
            return _FRAMEWORK
        return frame
    return "uvicorn and the event loop (outside the app)"


def summarize(path: Path, top: int = 8) -> ProfileSummary:
    """Aggregate a collapsed-stack file: innermost frames, and the Calendo code behind them."""
    leaf: Counter[str] = Counter()
    owners: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        in_db_thread = _DB_THREAD in stack
        total += count
        leaf[_NATIVE.get(frames[-1], frames[-1])] += count
        owners[_owner(frames, in_db_thread)] += count
    return ProfileSummary(
        samples=total,
        self_top=[(f, _fraction(c, total)) for f, c in leaf.most_common(top)],
        app_top=[(f, _fraction(c, total)) for f, c in owners.most_common(top)],
    )


def _fraction(count: int, total: int) -> float:
    return count / total if total else 0.0


def to_markdown(title: str, summary: ProfileSummary, file_name: str, threads: str) -> str:
    """A short section: the top innermost frames and the top Calendo frames, in % of samples."""
    lines = [
        f"#### {title}",
        "",
        f"{threads}. {summary.samples} samples holding the GIL; collapsed stacks in "
        f"`bench/results/{file_name}`.",
        "",
        "| innermost frame (self time) | % | deepest Calendo frame (what caused it) | % |",
        "| --- | ---: | --- | ---: |",
    ]
    for i in range(max(len(summary.self_top), len(summary.app_top))):
        cells = [_cell(ranked, i) for ranked in (summary.self_top, summary.app_top)]
        lines.append("| " + " | ".join(c for pair in cells for c in pair) + " |")
    return "\n".join(lines) + "\n"


def _cell(ranked: list[tuple[str, float]], index: int) -> tuple[str, str]:
    if index >= len(ranked):
        return "", ""
    frame, share = ranked[index]
    return f"`{frame}`", f"{share:.0%}"
