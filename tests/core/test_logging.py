"""Log lines go to ``sys.stderr`` as it is when they are written: a logger cached on first use
while a test captured the output keeps working once that capture is closed."""

from __future__ import annotations

import io
import sys

import pytest
import structlog

from calendo.core.observability import configure_logging


def test_a_logger_cached_on_a_closed_stream_writes_to_the_current_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    captured, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)
    configure_logging(json_logs=True)
    log = structlog.get_logger("calendo.test")
    log.warning("first_line")  # cached now (cache_logger_on_first_use)
    assert '"event": "first_line"' in captured.getvalue()
    captured.close()  # as a test's capture is at its end
    monkeypatch.setattr(sys, "stderr", later)
    log.warning("second_line", channel="user:1")
    assert '"event": "second_line"' in later.getvalue()
    assert '"channel": "user:1"' in later.getvalue()
