"""The fairness harness (``python -m bench.fairness``) runs every phase and prints its table."""

from __future__ import annotations

import pytest

from bench import fairness, fairness_fixtures
from tests.conftest import BACKEND, FAST_PATH


# The harness seeds and serves a SQLite database of its own whatever the run's backend: the
# PostgreSQL run would repeat this 100-second test as it is, and the fast-path-off run would
# only change the server's driver, which the rest of that run covers. It runs once per CI.
@pytest.mark.skipif(
    (BACKEND, FAST_PATH) != ("sqlite", "on"), reason="runs its own SQLite server: once per CI"
)
def test_tiny_run_has_a_row_per_phase(capsys: pytest.CaptureFixture[str]) -> None:
    # Every heavy request is asserted 2xx once before measuring (else SystemExit).
    argv = ["--duration", "0.3", "--versions", "5"]
    assert fairness.main(argv) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    names = [row.split("|")[1].strip() for row in rows[1:]]
    heavy = list(fairness_fixtures.heavy_requests(fairness_fixtures.Fixtures(1, 2, 3), 0))
    assert names == ["none (idle)", *[n for n in heavy for _ in (1, 3)]]
    assert "**Verdict: " in out
    # The loop-lag gauge was found in /metrics (else RuntimeError) and no request failed.
    assert all(row.rstrip(" |").endswith("| 0") for row in rows[1:])
