"""Profile the slowest operations of the last scale with py-spy while re-running them."""

from __future__ import annotations

import re
import time

from bench.config import RESULTS_DIR, RunOptions
from bench.dataset import SeedFacts
from bench.measure import Generator, Target, spec_for
from bench.profiling import find_py_spy, start_recording, summarize, to_markdown
from bench.report import BARE, Row
from bench.scenarios import read_scenarios, write_scenarios

# Login is slow on purpose (Argon2id with 64 MiB); its profile is the hash and nothing else.
NOT_PROFILED = frozenset({BARE, "login"})
# Besides the three slowest: the operations that have throughput targets.
ALWAYS_PROFILED = ("get event", "list window", "update (allow)")
ATTACH_SECONDS = 1.0


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def profile_slowest(
    rows: list[Row],
    facts: SeedFacts,
    target: Target,
    generator: Generator,
    options: RunOptions,
) -> list[str]:
    """Markdown sections, one per profiled scenario (or a note when py-spy is missing).

    Profiled: the three slowest operations by p50, then those with throughput targets.
    """
    py_spy = find_py_spy(options.py_spy)
    if py_spy is None:
        return ["py-spy not found (pip install py-spy, or pass --py-spy PATH): no profiles.\n"]
    candidates = [r for r in rows if r.rps and r.scenario not in NOT_PROFILED]
    slowest = sorted(candidates, key=lambda r: r.p50_ms or 0.0, reverse=True)[:3]
    slowest += [r for r in candidates if r.scenario in ALWAYS_PROFILED and r not in slowest]
    scenarios = {s.name: s for s in read_scenarios(facts) + write_scenarios(facts, "profile")}
    sections = []
    for row in slowest:
        out = RESULTS_DIR / f"profile-{row.scale}-{_slug(row.scenario)}.txt"
        target.calendo.wait_idle()
        seconds = options.profile_seconds + ATTACH_SECONDS
        recorder = start_recording(py_spy, target.calendo.pid, seconds, out)
        time.sleep(ATTACH_SECONDS)
        spec = spec_for(scenarios[row.scenario], target, options, options.profile_seconds)
        main_before, other_before = target.calendo.thread_cpu()
        result = generator(spec)
        main_after, other_after = target.calendo.thread_cpu()
        threads = _thread_split(
            main_after - main_before, other_after - other_before, result.requests
        )
        _, stderr = recorder.communicate(timeout=options.profile_seconds + 60)
        if recorder.returncode != 0 or not out.exists():
            sections.append(f"py-spy failed on {row.scenario}: {stderr.decode()[-500:]}\n")
            continue
        title = f"{row.scenario} at {row.scale} (p50 {row.p50_ms or 0:.1f} ms)"
        sections.append(to_markdown(title, summarize(out), out.name, threads))
    return sections


def _thread_split(main_s: float, other_s: float, requests: int) -> str:
    """Server CPU per request, and how much of it ran outside the event loop's thread."""
    total = main_s + other_s
    per_request = total * 1000 / requests if requests else 0.0
    share = other_s / total if total else 0.0
    return (
        f"Server CPU {per_request:.2f} ms per request, {share:.0%} of it outside the event-loop "
        "thread (the anyio thread pool; SQLite runs on the loop's thread)"
    )
