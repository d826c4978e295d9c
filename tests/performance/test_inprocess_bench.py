"""The in-process harness (``python -m bench.inprocess``) drives every hot route it measures."""

from __future__ import annotations

import pytest

from bench import inprocess


@pytest.mark.parametrize("kind", ["get", "list", "window", "update"])
def test_each_route_answers_and_costs_cpu(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A non-2xx answer during the warm-up would end the run with SystemExit.
    assert inprocess.main([kind, "--requests", "5"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{kind}: ")
    assert int(line.split()[1]) > 0
