"""Reliability suite: a summary line per category at the end of the run."""

from __future__ import annotations

from _pytest.terminal import TerminalReporter

from tests.security.summary import write_summary

CATEGORIES = {
    "tests/reliability/test_concurrency.py": "concurrency",
    "tests/reliability/test_lock_order.py": "lock order",
    "tests/reliability/test_lock_order_series.py": "lock order (series)",
    "tests/reliability/test_crash.py": "crash safety",
    "tests/reliability/test_multiprocess.py": "multi-process",
}


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """``reliability: concurrency 9 passed / crash safety 1 passed / multi-process 3 skipped``"""
    write_summary(terminalreporter, "reliability", CATEGORIES)
