"""One line per category at the end of a run, e.g.

    security: token attacks 36 passed / authz matrix 193 passed / fuzz 53 passed, 2 xfailed

Categories are test files; the ``conftest.py`` of each suite names its own.
"""

from __future__ import annotations

from collections import Counter

from _pytest.terminal import TerminalReporter

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def _counts(reporter: TerminalReporter, files: dict[str, str]) -> dict[str, Counter[str]]:
    """Outcome counts per category, from the reporter's collected test reports."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in files.values()}
    for outcome in OUTCOMES:
        for report in reporter.stats.get(outcome, []):
            path = getattr(report, "nodeid", "").split("::", 1)[0]
            category = files.get(path)
            if category is not None:
                counts[category][outcome] += 1
    return counts


def summary_line(reporter: TerminalReporter, suite: str, files: dict[str, str]) -> str | None:
    """``suite: category n passed, m xfailed / ...`` for the categories that ran, or None."""
    parts = []
    for category, counter in _counts(reporter, files).items():
        if counter:
            detail = ", ".join(f"{counter[o]} {o}" for o in OUTCOMES if counter[o])
            parts.append(f"{category} {detail}")
    return f"{suite}: " + " / ".join(parts) if parts else None


def write_summary(reporter: TerminalReporter, suite: str, files: dict[str, str]) -> None:
    """Print the suite's line (bold red when anything failed)."""
    line = summary_line(reporter, suite, files)
    if line is None:
        return
    failed = " failed" in line or " error" in line or " xpassed" in line
    reporter.write_line(line, bold=True, red=failed, green=not failed)
